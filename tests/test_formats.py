"""Each format converts to the one record type; each rejection has its code."""

import copy

import pytest

from curate.errors import ROW_ERRORS, RowRejected
from curate.formats import FORMATS, convert_record, detect


def conv(record, kind="examples", fmt=None):
    name, out = convert_record(record, kind, fmt)
    return name, out


def roles(c):
    return [m.role for m in c.messages]


def test_alpaca_with_input_system_history_and_metadata():
    rec = {"instruction": "Sum", "input": "1 2", "output": "3", "system": "Be terse",
           "history": [["hi", "hello"]], "category": "math"}
    before = copy.deepcopy(rec)
    name, [c] = conv(rec)
    assert name == "alpaca"
    assert roles(c) == ["system", "user", "assistant", "user", "assistant"]
    assert c.messages[3].content == "Sum\n\n1 2"
    assert c.metadata == {"category": "math"}
    assert rec == before, "converters must not mutate the caller's record"


def test_alpaca_empty_input_is_just_the_instruction():
    _, [c] = conv({"instruction": "Say hi", "input": "", "output": "hi"})
    assert c.messages[0].content == "Say hi" and c.metadata == {}


def test_alpaca_seed_instances_expand_one_example_each():
    rec = {"id": "t1", "instruction": "Do", "instances": [{"input": "a", "output": "A"},
                                                           {"input": "b", "output": "B"}]}
    _, out = conv(rec)
    assert [c.messages[-1].content for c in out] == ["A", "B"]
    assert [c.metadata["instance"] for c in out] == [0, 1] and out[0].metadata["id"] == "t1"


def test_dolly():
    name, [c] = conv({"instruction": "Who?", "context": "Ctx", "response": "Him", "category": "closed_qa"})
    assert name == "dolly" and c.messages[0].content == "Who?\n\nCtx" and c.metadata == {"category": "closed_qa"}


def test_openai_tools_names_weights_and_parts():
    rec = {"messages": [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}], "name": "ann"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"x\": 1}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
        {"role": "assistant", "content": "It is 42", "weight": 1, "refusal": None},
    ], "tools": [{"type": "function", "function": {"name": "f"}}], "split": "train"}
    name, [c] = conv(rec)
    assert name == "openai"
    assert roles(c) == ["system", "user", "assistant", "tool", "assistant"]
    assert c.messages[1].content == "ab" and c.messages[1].name == "ann"
    assert c.messages[2].tool_calls[0].name == "f" and c.messages[2].tool_calls[0].id == "c1"
    assert c.messages[3].tool_call_id == "c1" and c.messages[4].weight == 1
    assert c.tools == ({"type": "function", "function": {"name": "f"}},)
    assert c.metadata == {"split": "train", "turn_fields": {"4": {"refusal": None}}}


def test_sharegpt_aliases_function_calls_and_tools():
    rec = {"system": "S", "tools": '[{"name": "get"}]', "conversations": [
        {"from": "human", "value": "q"},
        {"from": "function_call", "value": '{"name": "get", "arguments": {"id": 1}}'},
        {"from": "observation", "value": "{\"ok\": true}"},
        {"from": "gpt", "value": "done"}], "id": 7}
    name, [c] = conv(rec)
    assert name == "sharegpt"
    assert roles(c) == ["system", "user", "assistant", "tool", "assistant"]
    assert c.messages[2].tool_calls[0].arguments == '{"id":1}'
    assert c.tools == ({"name": "get"},) and c.metadata == {"id": 7}


def test_sharegpt_tools_that_are_not_json_are_kept_with_a_warning():
    rec = {"tools": "not json", "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}
    _, [c] = conv(rec)
    assert c.metadata["tools"] == "not json" and [w.code for w in c.warnings] == ["tools_not_json"]


def test_prompt_completion_and_hh_transcript():
    name, [c] = conv({"prompt": "p", "completion": "c", "score": 3})
    assert name == "prompt_completion" and c.metadata == {"score": 3}
    name, [c] = conv({"chosen": "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: bye\n\nAssistant: ciao",
                      "rejected": "\n\nHuman: hi\n\nAssistant: no"})
    assert name == "hh_rlhf" and roles(c) == ["user", "assistant"] * 2
    assert c.metadata["rejected"].endswith("no")


def test_oasst_tree_paths_end_on_assistant_and_keep_unanswered_text():
    tree = {"message_tree_id": "t", "prompt": {"message_id": "1", "role": "prompter", "text": "Q", "replies": [
        {"message_id": "2", "role": "assistant", "text": "A1", "replies": [
            {"message_id": "4", "role": "prompter", "text": "follow-up nobody answered", "replies": []}]},
        {"message_id": "3", "role": "assistant", "text": "A2", "replies": []}]}}
    name, out = conv(tree)
    assert name == "oasst_tree" and [c.messages[-1].content for c in out] == ["A1", "A2"]
    assert out[0].metadata["unanswered"] == ["follow-up nobody answered"]
    assert out[0].metadata["turns"][1]["message_id"] == "2"


def test_query_kind_accepts_plain_text_and_chat():
    name, [c] = conv({"text": "where is my parcel", "category": "tracking"}, kind="queries")
    assert name == "query" and roles(c) == ["user"] and c.metadata == {"category": "tracking"}
    name, [c] = conv({"messages": [{"role": "user", "content": "hi"}]}, kind="queries")
    assert name == "openai"


def test_detect_returns_none_for_unknown_and_query_only_for_queries():
    assert detect({"text": "x"}) is None
    assert detect({"text": "x"}, "queries") == "query"


def test_forced_format_overrides_detection():
    name, [c] = conv({"instruction": "i", "output": "o", "response": "r"}, fmt="alpaca")
    assert name == "alpaca" and c.messages[-1].content == "o"


@pytest.mark.parametrize("record,code", [
    ([1, 2], "not_an_object"),
    ({"foo": "bar"}, "unknown_format"),
    ({"messages": []}, "missing_messages"),
    ({"messages": "hello"}, "missing_messages"),
    ({"messages": ["hi"]}, "not_a_turn"),
    ({"messages": [{"role": "wizard", "content": "x"}, {"role": "assistant", "content": "y"}]}, "unknown_role"),
    ({"conversations": [{"from": "alien", "value": "x"}]}, "unknown_role"),
    ({"messages": [{"role": "user", "content": "  "}, {"role": "assistant", "content": "y"}]}, "empty_content"),
    ({"instruction": "i", "input": "", "output": ""}, "empty_content"),
    ({"messages": [{"role": "user", "content": "q"}]}, "no_assistant_turn"),
    ({"messages": [{"role": "system", "content": "s"}, {"role": "assistant", "content": "a"}]}, "no_user_turn"),
    ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"},
                   {"role": "user", "content": "q2"}]}, "last_turn_not_assistant"),
    ({"messages": [{"role": "user", "content": "q"}, {"role": "user", "content": "q2"},
                   {"role": "assistant", "content": "a"}]}, "roles_not_alternating"),
    ({"messages": [{"role": "user", "content": "q"}, {"role": "system", "content": "s"},
                   {"role": "assistant", "content": "a"}]}, "system_not_first"),
    ({"messages": [{"role": "user", "content": 5}, {"role": "assistant", "content": "a"}]}, "non_string_content"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]},
                   {"role": "assistant", "content": "a"}]}, "non_string_content"),
    ({"instruction": "i", "output": 3}, "non_string_content"),
    ({"instruction": "i", "input": "x"}, "missing_field"),
    ({"messages": [{"role": "user", "content": "q"},
                   {"role": "assistant", "content": None, "tool_calls": [{"function": {}}]}]}, "invalid_tool_call"),
    ({"conversations": [{"from": "human", "value": "q"}, {"from": "function_call", "value": "nope"}]},
     "invalid_tool_call"),
    ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "weight": 2}]},
     "invalid_weight"),
    ({"messages": [{"role": "user", "content": "q", "weight": 1}, {"role": "assistant", "content": "a"}]},
     "invalid_weight"),
])
def test_rejection_codes(record, code):
    with pytest.raises(RowRejected) as info:
        convert_record(record, "examples")
    assert info.value.code == code
    assert info.value.hint == ROW_ERRORS[code]


def test_transcript_that_does_not_start_with_human_is_invalid():
    with pytest.raises(RowRejected) as info:
        convert_record({"chosen": "Preamble\n\nAssistant: hi"}, "examples", "hh_rlhf")
    assert info.value.code == "invalid_transcript"


def test_warnings_are_recorded_not_rejected():
    _, [c] = conv({"messages": [{"role": "system", "content": ""}, {"role": "user", "content": "q"},
                                {"role": "assistant", "content": "a", "weight": 0}]})
    assert [w.code for w in c.warnings] == ["empty_system_prompt", "no_trainable_turn"]
    _, [c] = conv({"messages": [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "f", "arguments": {}}}]},
        {"role": "user", "content": "q2"}, {"role": "assistant", "content": "a"}]})
    assert [w.code for w in c.warnings] == ["tool_call_unanswered"]


def test_every_format_is_registered_and_documented():
    assert set(FORMATS) == {"alpaca", "dolly", "openai", "sharegpt", "prompt_completion", "hh_rlhf",
                            "oasst_tree", "query"}
    for module in FORMATS.values():
        assert module.__doc__ and callable(module.matches) and callable(module.convert)

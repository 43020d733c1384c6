from curate.record import Example, Message, Source, ToolCall, content_id


def src(i=0):
    return Source("f.jsonl", i + 1, i, "openai")


def test_id_ignores_metadata_source_and_outer_whitespace():
    a = Example.create([Message("user", "Hi"), Message("assistant", "Hello")], src(0), {"a": 1})
    b = Example.create([Message("user", " Hi\r\n"), Message("assistant", "Hello ")], src(5), {"b": 2})
    assert a.id == b.id and len(a.id) == 20


def test_id_distinguishes_role_content_tools_and_weight():
    base = [Message("user", "Hi"), Message("assistant", "Hello")]
    ids = {
        content_id(tuple(base)),
        content_id((Message("system", "Hi"), Message("assistant", "Hello"))),
        content_id((Message("user", "Hi"), Message("assistant", "Hello!"))),
        content_id(tuple(base), ({"name": "f"},)),
        content_id((Message("user", "Hi"), Message("assistant", "Hello", weight=0))),
        content_id((Message("user", "Hi"), Message("assistant", "", tool_calls=(ToolCall("f", "{}"),)))),
    }
    assert len(ids) == 6


def test_unicode_normalisation_makes_equal_text_equal():
    composed = content_id((Message("user", "caf\u00e9"), Message("assistant", "x")))
    decomposed = content_id((Message("user", "cafe\u0301"), Message("assistant", "x")))
    assert composed == decomposed


def test_example_is_immutable_and_copies_metadata():
    meta = {"k": "v"}
    e = Example.create([Message("user", "a"), Message("assistant", "b")], src(), meta)
    meta["k"] = "changed"
    assert e.metadata["k"] == "v"
    try:
        e.id = "x"  # type: ignore[misc]
    except AttributeError:
        pass
    else:
        raise AssertionError("Example must be frozen")


def test_message_dict_round_trip():
    m = Message("assistant", "", name="bot", tool_calls=(ToolCall("f", '{"a":1}', "c1"),), weight=1)
    assert Message.from_dict(m.to_dict()) == m
    assert Example.create([Message("user", "q"), m], src()).prompt == "q"

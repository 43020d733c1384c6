"""Each check on positive and negative cases, including the tricky negatives a careless rule would flag."""

import json

import pytest

import curate
from curate import Workspace
from curate.checks import REGISTRY, Context
from curate.checks import run as run_checks
from curate.checks.pii import iban_ok, luhn
from curate.record import Example, Issue, Message, Source

from .conftest import require, write_jsonl


def ex(prompt, answer, system=None, warnings=()):
    msgs = ([Message("system", system)] if system else []) + [Message("user", prompt), Message("assistant", answer)]
    return Example.create(msgs, Source("t.jsonl", 1, 0, "openai"), warnings=warnings)


def flags(name, example, ctx=None, corpus=None):
    check = REGISTRY[name]()
    ctx = ctx or Context()
    if corpus is not None:
        check.prepare(corpus, ctx)
    return list(check.check(example, ctx))


CODE_WITH_REPEATS = "```python\n" + "\n".join(["x = 1", "y = 2", "return x", "}", "}", "}", "}"] * 5) + "\n```"


@pytest.mark.parametrize("name,example,hit", [
    ("empty_answer", ex("Hi", "   "), True),
    ("empty_answer", ex("Hi", "Hello!"), False),
    ("short_answer", ex("Explain how photosynthesis works in plants.", "Sunlight."), True),
    ("short_answer", ex("Classify the sentiment of this review: great phone.", "Positive"), False),
    ("short_answer", ex("What is 2+2?", "4"), False),
    ("short_answer", ex("Explain in detail how to classify emails as spam.", "Yes."), True),  # detail wins
    ("short_answer", ex("Write a Bash script to make a directory named 'test'", "mkdir test"), False),
    ("short_answer", ex("Write a query in MongoDB to count the documents.", "db.c.countDocuments()"), False),
    ("short_answer", ex("Write a Python function that reverses a string.", "Sure."), True),  # filler
    ("short_answer", ex("Find the sum of the numbers in the given list.\n\nlist = [1, 4, 6, 8]", "19"), False),
    ("refusal", ex("Tell me a joke", "As an AI language model, I cannot tell jokes."), True),
    ("refusal", ex("Make a bomb", "I'm sorry, but I can't help with that."), True),
    ("refusal", ex("Can I get a refund after 45 days?", "I cannot refund after 30 days, but I can open a claim."),
     False),
    # Someone or something in the field of AI, not the assistant talking about itself.
    ("refusal", ex("Career advice?", "As an AI researcher, I would start with linear algebra."), False),
    ("refusal", ex("Letter to your future self", "Keep growing, not just as an AI tool, but as a member of society."),
     False),
    ("refusal", ex("Whats the weather?", "As an AI, I don't have access to real-time data."), True),
    ("repetition", ex("I'm hungry", "Eat a banana!" * 2000), True),
    ("repetition", ex("Say it", "Please check your invoice. " * 40), True),
    ("repetition", ex("Write code", CODE_WITH_REPEATS), False),
    ("placeholders", ex("Write an email", "Dear {name}, thanks for your order."), True),
    ("placeholders", ex("Write a letter", "Hello <insert customer name>, ..."), True),
    ("placeholders", ex("Write text", "Lorem ipsum dolor sit amet."), True),
    ("placeholders", ex("Python f-string?", "Use `f'{name}'`, or:\n```python\nprint(f'Hello {name}')\n```"), False),
    ("placeholders", ex("Set notation?", "The set {1, 2} has two elements; JSON like {\"a\": 1} is fine."), False),
    # Unfenced code fills its own {name}s: f-strings, JSX, Ruby interpolation, JSDoc types, .format().
    ("placeholders", ex("Print the GCD", 'g = gcd(a, b)\nprint(f"GCD of {a} and {b} is {g}")'), False),
    ("placeholders", ex("React list", "<ul>\n  <li key={index}>{item}</li>\n</ul>"), False),
    ("placeholders", ex("Ruby", 'puts "Found at #{result}"'), False),
    ("placeholders", ex("Document it", "/**\n * @param {string} s - the text\n */"), False),
    ("placeholders", ex("Format", 'msg = "Hi {name}".format(name=n)'), False),
    ("pii", ex("Contact?", "Email jane.doe@parcelly-mail.com today."), True),
    ("pii", ex("Contact?", "Call +44 20 7946 0958."), True),
    ("pii", ex("Card?", "Use 4111 1111 1111 1111 for tests."), True),
    ("pii", ex("Key?", "Use this key: sk-proj-abcdefghijklmnopqrstuvwxyz123456"), True),
    ("pii", ex("IBAN?", "Pay to GB82 WEST 1234 5698 7654 32."), True),
    ("pii", ex("Numbers?", "The order number is 1234 5678 9012 3456 and it shipped in 2023."), False),
    ("pii", ex("Version?", "Install version 3.11.7 from python.org."), False),
    ("pii", ex("Card?", "Charge 4111111111111111 now."), True),  # one run of digits
    ("pii", ex("Card?", "Amex 3782 822463 10005 on file."), True),  # 4-6-5
    ("pii", ex("Table?", "# 1 2 3 4 5 6 7 8 9 10\n# 2 4 6 8 10 12 14 16 18 20"), False),  # rows of a table
    ("pii", ex("SQL?", 'INSERT INTO users VALUES (1, "john.doe@example.com");'), False),  # a reserved domain
    ("encoding", ex("Café?", "The cafÃ© is open; donâ€™t worry."), True),
    ("encoding", ex("Bell", "ding\x07 dong"), True),
    ("encoding", ex("Café?", "Le café est ouvert — n’ayez crainte."), False),
    ("language", ex("Wie kann ich mein Passwort zurücksetzen, wenn ich es vergessen habe?",
                    "You can reset your password from the sign-in page with the link."), True),
    ("language", ex("List the orders of customer 11 with their dates in SQL.",
                    "SELECT o.order_id, o.order_date\nFROM orders o\nWHERE o.customer_id = 11;"), False),  # code
    ("language", ex("Make a table of the users with name, e-mail, age and gender.",
                    "| Name | Email | Age | Gender |\n|---|---|---|---|\n| Ana Souza | ana@mail.com | 30 | Female |\n"
                    "| John Smith | john@mail.com | 25 | Male |"), False),  # a table is not prose
    ("language", ex("How do I reset my password if I forgot it?", "Use the 'Forgot password' link on the page."),
     False),
    ("language", ex("Translate to French: good morning, how are you today?", "Bonjour, comment allez-vous "
                    "aujourd'hui ?"), False),
    ("ingest_warnings", ex("q", "a", warnings=(Issue("tool_call_unanswered", "turn 2"),)), True),
    ("ingest_warnings", ex("q", "a"), False),
])
def test_check(name, example, hit):
    found = flags(name, example)
    assert bool(found) is hit, found
    for f in found:
        assert f.severity in ("error", "warning", "info") and 0 <= f.score <= 1 and f.message


@pytest.mark.parametrize("example,rule", [
    (ex("Show code", "Here:\n```python\nprint('hi')\n"), "open_fence"),
    (ex("How do I change my delivery slot?", "Open the parcel in the app and tap 'Change "
     "delivery', then choose"), "mid_sentence"),
    (ex("List fruits", "- apple\n- banana\n- cherry"), None),
    (ex("Give tips", "Tips:\n1. Use a long password\n2. Turn on two-factor login and"), "dangling"),
    (ex("Give tips", "Tips:\n1. Use a long password\n2. Turn on two-factor login"), None),
    (ex("Show code", "```python\nprint('hi')\n```"), None),
    (ex("Explain", "This works because (as noted) the sun is hot."), None),
    (ex("Stacks?", "Push each '(' to the stack; pop it at each ')'. Every `[` must be closed."), None),
    (ex("Name five countries in Europe.", "1. France\n2. Spain\n3. Italy"), "list_short_of_request"),  # 3 of 5
    (ex("Name three countries in Europe.", "1. France\n2. Spain\n3. Italy"), None),
    (ex("Give me five tips for sleeping well.", "Tips:\n- Keep a schedule\n- Avoid caffeine"), "list_short_of_request"),
    (ex("Give me two tips for sleeping well.", "Tips:\n- Keep a schedule\n- Avoid caffeine"), None),
    (ex("Tips?", "1. Sleep well.\n2. Drink water.\n3. Walk daily.\n4. Eat more fresh"), "list_item_cut"),
    (ex("Quote?", "He said: \"Stay hungry, stay"), "open_quote"),  # an open quotation
    (ex("Solve 17 / 3", "Dividing both sides, we get the result x ="), "ends_on_operator"),
    (ex("Quote?", "\"No man is an island.\" - John Donne"), None),  # an attribution
    (ex("Regex for cat?", "The regular expression to find the word cat is /cat/g"), None),
    (ex("Write a letter", "Dear Ann,\n\nThank you for the gift. It was lovely.\n\nBest regards,\nJohn"), None),
    (ex("Steps?", "1. Read the input string from the user\n2. Reverse the characters one by one\n"
     "3. Print the reversed string to the screen\n4. End"), None),
    (ex("Code?", "def total(xs):\n    s = 0\n    for x in xs:"), "ends_on_operator"),  # a header with no body
    (ex("Code?", "def total(xs):\n    s = 0\n    for x in xs:\n        s += x\n    return s"), None),
    (ex("Code?", "def f(xs):\n    total = 0\n    total"), "code_cut"),  # a bare name: cut statement
    (ex("Code?", "def f(d, xs):\n    for x in xs:\n        d[x]"), "code_cut"),  # a bare subscript
    (ex("Code?", "def f(s):\n    for i in range(3):\n        if len(s[i:j])"), "code_cut"),  # no colon
    (ex("Outline?", "I. Intro\nA. Hook\nB. Thesis\nII. Body\nA. Point one\nIII. Conclusion"), "heading_last"),
    (ex("Code?", "class A:\n    def run(self):\n        # nothing yet\n        pass"), None),
    (ex("Code?", "def area(r):\n    \"\"\"Return the area of a circle of"), "unclosed_string_or_comment"),  # docstring
    (ex("Code?", "def ok(n):\n    if n > 0:\n        return \"The number is"), "branch_only_return"),  # an open string; the Python rows come first
    (ex("Code?", "for word in words:\n    total_length +="), "ends_on_operator"),
    (ex("Code?", "i = 0\nwhile i < 3\n  print i\n  i = i + 1\nend while"), None),
    (ex("Essay?", "Rome grew for centuries. Its roads still stand.\n\n## Legacy"), "heading_last"),  # heading
])
def test_truncation_names_the_rule_that_found_the_cut(example, rule):
    found = flags("truncation", example)
    assert [f.evidence["rule"] for f in found] == ([rule] if rule else [])


def test_luhn_and_iban():
    assert luhn("4111111111111111") and not luhn("4111111111111112")
    assert iban_ok("GB82 WEST 1234 5698 7654 32") and not iban_ok("GB82 WEST 1234 5698 7654 33")


def test_token_length_counts_with_a_real_tokenizer():
    from curate.checks.tokenizer import load

    name, count = load(None)
    assert count("Hello world") == 2 and count("tokenization") >= 2
    ctx = Context(max_length=20, tokenizer=count)
    [f] = flags("token_length", ex("word " * 30, "ok"), ctx)
    assert f.severity == "error" and f.evidence["over"] > 0 and "over the 20-token limit" in f.message
    assert not flags("token_length", ex("short", "ok"), ctx)


def test_token_length_tokenizes_only_what_could_exceed_the_limit():
    from curate.checks.tokenizer import Counter, load

    _, real = load(None)
    seen = []
    spy = Counter(lambda text: seen.append(text) or real(text), at_most=real.at_most)
    ctx = Context(max_length=40, tokenizer=spy)
    short, long_ = ex("short question", "ok"), ex("word " * 60, "ok")
    # Longer than 40 characters, so a generic tokenizer could reach 40 tokens; the WordPiece bound says not.
    medium = ex("What is the capital of France, and why?", "Paris is the capital of France.")
    check = REGISTRY["token_length"]()
    assert not list(check.check(short, ctx)) and not list(check.check(medium, ctx))
    assert not seen, "neither conversation can reach 40 tokens: neither is tokenized"
    [f] = check.check(long_, ctx)
    assert f.evidence["tokens"] > 40 and len(seen) == 1


def test_wordpiece_bound_is_never_below_the_true_count(shared_data):
    """The bound lets conversations skip the tokenizer, so it must hold on every text, real or odd."""
    from curate.checks.tokenizer import load

    _, count = load(None)
    rows = (shared_data / "oasst_en100/oasst_en100_paths.messages.jsonl").read_text().splitlines()
    texts = ["\n".join(f"<|{m['role']}|>\n{m['content']}" for m in json.loads(r)["messages"]) for r in rows]
    texts += [
        "한국어 텍스트 " * 50, "Ünïcödé wörds [CLS] ##s 中文 ﬁ İstanbul", "x" * 500, "a,b;c (d) {e}",
        "tab\there\n\nnew  line", "don’t — stop…", "CamelCaseIdentifier snake_case_name 3.14159", "\x00\x01 ctrl"]
    bounds = [count.at_most(t) for t in texts]
    exact = [count(t) for t in texts]
    assert all(b >= n for b, n in zip(bounds, exact))
    assert sum(bounds) < 1.5 * sum(exact), "a bound this loose would skip nothing"


def test_declining_what_the_tools_cannot_do_is_noted_not_held_against_the_answer():
    tool = {"type": "function", "function": {"name": "calculate_distance", "parameters": {}}}
    msgs = [Message("user", "Can you book me a flight to Paris?"),
            Message("assistant", "I'm sorry, but I can't assist with that. My current function calculates distances.")]
    [f] = flags("refusal", Example.create(msgs, Source("t.jsonl", 1, 0, "openai"), tools=[tool]))
    assert f.severity == "info" and "tools do not cover" in f.message
    [f] = flags("refusal", Example.create(msgs, Source("t.jsonl", 1, 0, "openai")))  # no tools: a refusal
    assert f.severity == "warning"


def test_saying_what_it_is_when_asked_is_noted_not_held_against_the_answer():
    [f] = flags("refusal", ex("Who are you?", "I'm a language model called Vicuna, trained by LMSYS."))
    assert f.severity == "info"
    [f] = flags("refusal", ex("What is the capital of Peru?", "As an AI language model, I think it is Lima."))
    assert f.severity == "warning"


def test_a_placeholder_the_prompt_gave_is_flagged_in_the_prompt_not_in_the_answer():
    found = flags("placeholders", ex("Put this in a <p>: Lorem ipsum dolor sit amet.", "<p>Lorem ipsum dolor sit amet.</p>"))
    assert [f.evidence["turn"] for f in found] == [0]


def test_json_by_prompt_and_by_majority_and_key_style():
    assert flags("json_format", ex("Return JSON with the user's name", "The name is Ann."))
    assert not flags("json_format", ex("Return JSON with the user's name", '```json\n{"name": "Ann"}\n```'))
    corpus = [ex(f"q{i}", json.dumps({"user_name": "a", "order_id": i})) for i in range(5)]
    odd = ex("q", json.dumps({"userName": "a", "orderId": 1}))
    [f] = flags("json_format", odd, corpus=corpus + [odd])
    assert "camel" in f.message and "snake" in f.message
    assert flags("json_format", ex("q", "{not json"), corpus=corpus)  # majority JSON: prose is flagged
    # JSON as the subject of a coding task is not a request for a JSON answer; a Python dict is not JSON.
    assert not flags("json_format", ex("Write a C++ code to access JSON data in a string.", "#include <json/json.h>"))
    assert not flags("json_format", ex("Convert this sentence to a Python dictionary: Ann is 30.",
                                       "{'name': 'Ann', 'age': 30}"))
    assert flags("json_format", ex("Write a Python function that adds two numbers. Return the answer as JSON.",
                                   "def add(a, b): return a + b"))  # insisted on, whatever the task
    # A ```json block inside prose is the JSON asked for; each answer is judged by the turn it answers.
    assert not flags("json_format", ex("Give me the data as JSON.", 'Sure, here it is:\n```json\n{"a": 1}\n```'))
    talk = Example.create([Message("user", "Return the winners as JSON."), Message("assistant", '{"winners": []}'),
                           Message("user", "Who was Enrico Fermi?"), Message("assistant", "An Italian physicist.")],
                          Source("t.jsonl", 1, 0, "openai"))
    assert not flags("json_format", talk)


def test_system_prompt_minority_is_flagged():
    corpus = [ex("q", "a", system="You are helpful.") for _ in range(8)] + [ex("q", "a", system="Be rude.")]
    assert flags("system_prompt", corpus[-1], corpus=corpus)
    assert not flags("system_prompt", corpus[0], corpus=corpus)


def test_run_stores_findings_scores_prunes_and_survives_a_broken_check(ws_dir, tmp_path):
    records = [{"messages": [{"role": "user", "content": f"Question {i}?"},
                             {"role": "assistant", "content": f"A clear and complete answer number {i}."}]}
               for i in range(18)]
    records.append({"messages": [{"role": "user", "content": "Hungry"},
                                 {"role": "assistant", "content": "Eat a banana!" * 300}]})
    records.append({"messages": [{"role": "user", "content": "Key?"},
                                 {"role": "assistant", "content": "sk-proj-abcdefghijklmnopqrstuvwxyz123456"}]})
    curate.ingest([write_jsonl(tmp_path / "d.jsonl", records)], "d", workspace=ws_dir)
    custom = tmp_path / "my_checks.py"
    custom.write_text('''
from curate.checks import Check, Flag, register

@register
class Broken(Check):
    name = "broken_example_check"
    description = "always crashes"

    def check(self, example, ctx):
        raise RuntimeError("boom")
        yield

@register
class MentionsBanana(Check):
    name = "mentions_banana"
    description = "answers that mention bananas"

    def check(self, example, ctx):
        for m in example.messages:
            if m.role == "assistant" and "banana" in m.content.lower():
                yield Flag("info", 0.3, "mentions bananas")
''')
    r = run_checks("d", workspace=ws_dir, custom=[str(custom)], prune_bottom=0.1)
    s = r.summary
    assert "broken_example_check" in s["failed_checks"] and s["by_check"]["repetition"]["examples"] == 1
    assert s["by_check"]["mentions_banana"]["info"] == 1 and s["by_check"]["pii"]["error"] == 1
    assert s["proposed_rejections"] == 2 and s["flagged_examples"] == 2
    with Workspace(ws_dir) as ws:
        stored = ws.run_findings(r.run_id)
    assert {f.kind for f in stored} >= {"repetition", "pii", "prune_proposal", "mentions_banana"}
    worst = min(r.scores, key=r.scores.get)
    assert r.scores[worst] < 0.5 and sorted(r.scores.values())[-1] == 1.0
    f = next(f for f in r.findings if f["check"] == "repetition")
    assert set(f) >= {"example_id", "source", "check", "severity", "score", "message"}


def test_cli_check_table_json_and_list(ws_dir, tmp_path):
    from click.testing import CliRunner

    from curate.cli import main

    curate.ingest([write_jsonl(tmp_path / "d.jsonl", [
        {"messages": [{"role": "user", "content": "Explain how gravity works, in detail please."}, {"role": "assistant", "content": "Mass."}]}
    ])], "d", workspace=ws_dir)
    runner = CliRunner()
    out = runner.invoke(main, ["-w", str(ws_dir), "check", "--json", "--only", "short_answer,refusal"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert [f["check"] for f in data["findings"]] == ["short_answer"] and set(data["summary"]["by_check"]) == {
        "short_answer", "refusal"}
    human = runner.invoke(main, ["-w", str(ws_dir), "check", "--max-length", "4"])
    assert human.exit_code == 0 and "token_length" in human.output and "flagged" in human.output
    assert "short_answer" in runner.invoke(main, ["check", "--list"]).output
    bad = runner.invoke(main, ["-w", str(ws_dir), "check", "--only", "nope"])
    assert bad.exit_code == 2 and "unknown check" in bad.output


@pytest.mark.integration
def test_known_real_faults_are_found(shared_data, ws_dir):
    curate.ingest([shared_data / "openai_toy_chat/toy_chat_fine_tuning.jsonl"], "toy", workspace=ws_dir)
    r = run_checks("toy", workspace=ws_dir)
    assert r.summary["by_check"]["repetition"]["examples"] == 1  # "Eat a banana!" x 2,000
    assert r.summary["by_check"]["system_prompt"]["examples"] == 1  # one record has no system message


def test_parallel_run_matches_the_sequential_one(ws_dir, tmp_path, monkeypatch):
    import sys

    records = [{"messages": [{"role": "user", "content": f"Explain topic {i} in detail please, thanks."},
                             {"role": "assistant", "content": "Eat a banana! " * (40 if i % 7 == 0 else 1)
                              + ("Mail me at a.b@example-mail.com" if i % 5 == 0 else "")}]} for i in range(60)]
    curate.ingest([write_jsonl(tmp_path / "d.jsonl", records)], "d", workspace=ws_dir)
    sequential = run_checks("d", workspace=ws_dir)
    module = sys.modules["curate.checks.runner"]
    monkeypatch.setattr(module, "PARALLEL_MIN", 0)
    monkeypatch.setattr(module, "PARALLEL_WORKERS", 2)
    parallel = run_checks("d", workspace=ws_dir)
    assert parallel.findings == sequential.findings and parallel.scores == sequential.scores
    assert parallel.summary["by_check"]["repetition"]["examples"] == 9


def test_a_large_collections_majorities_come_from_an_even_sample(ws_dir, tmp_path, monkeypatch):
    """Above FIRST_PASS_SAMPLE examples the first pass observes an even sample: the set's system prompt is
    still found, every example is still checked, and the report says how many the statistics rest on."""
    import sys

    records = [{"messages": ([{"role": "system", "content": "You are a pirate." if i == 13 else "Be brief."}]
                             + [{"role": "user", "content": f"Question number {i}?"},
                                {"role": "assistant", "content": f"Answer number {i}."}])} for i in range(120)]
    curate.ingest([write_jsonl(tmp_path / "d.jsonl", records)], "d", workspace=ws_dir)
    whole = run_checks("d", workspace=ws_dir, only=["system_prompt"])
    monkeypatch.setattr(sys.modules["curate.checks.runner"], "FIRST_PASS_SAMPLE", 30)
    sampled = run_checks("d", workspace=ws_dir, only=["system_prompt"])
    assert "set_statistics_from" not in whole.summary and sampled.summary["set_statistics_from"] == 30
    found = [[(f["example_id"], f["check"]) for f in r.findings] for r in (whole, sampled)]
    assert found[0] == found[1] and len(found[0]) == 1  # the pirate, found either way (the share is estimated)
    assert sampled.summary["examples"] == 120


def test_token_length_with_a_training_models_tokenizer_directory(tmp_path):
    """`--tokenizer DIR` (a model's tokenizer, here a byte-level BPE like Llama 3's): counts are that
    tokenizer's, and with no cheap bound for it every conversation that could exceed is tokenized."""
    require("transformers", "train")
    from curate.checks.token_length import render
    from curate.checks.tokenizer import load
    from train_bridge.tiny import tiny_tokenizer

    texts = ["How do I reset my password?", "Open Settings, then Security, then Reset password."] * 20
    tiny_tokenizer(texts, vocab_size=300).save_pretrained(tmp_path / "tok")
    name, count = load(str(tmp_path / "tok"))
    assert name == str(tmp_path / "tok") and count.at_most is None
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(tmp_path / "tok")
    long_ = ex("How do I reset my password? " * 6, "Open Settings, then Security. " * 6)
    assert count(render(long_)) == len(hf(render(long_), add_special_tokens=False)["input_ids"])
    [f] = flags("token_length", long_, Context(max_length=40, tokenizer=count))
    assert f.evidence["tokens"] == count(render(long_)) > 40


def test_examples_with_notes_only_are_not_counted_as_flagged(ws_dir, tmp_path):
    rows = [{"messages": [{"role": "user", "content": "Who are you?"},
                          {"role": "assistant", "content": "I am an AI assistant made by Example Corp."}]},
            {"messages": [{"role": "user", "content": "Write me a poem about the sea."},
                          {"role": "assistant", "content": "I'm sorry, but I can't help with that."}]},
            {"messages": [{"role": "user", "content": "What is 2 + 2?"}, {"role": "assistant", "content": "4"}]}]
    curate.ingest([write_jsonl(tmp_path / "d.jsonl", rows)], "d", workspace=ws_dir)
    s = run_checks("d", workspace=ws_dir, only=["refusal"]).summary
    assert s["flagged_examples"] == 1 and s["noted_examples"] == 1


@pytest.mark.integration
def test_real_cuts_in_alpaca_gpt4_are_found_and_few_complete_answers_flagged(shared_data, ws_dir):
    """Two answers in alpaca_gpt4_en_demo stop on an empty list item ("10.", "2."): the source data's own
    cuts. Across its 985 answers (and Code Alpaca's 2,015), truncation flags about 1%."""
    curate.ingest([shared_data / "alpaca_gpt4_en_demo/alpaca_en_demo.json"], "a", workspace=ws_dir)
    curate.ingest([shared_data / "code_alpaca_2k/code_alpaca_2k.json"], "c", workspace=ws_dir)
    a = run_checks("a", workspace=ws_dir, only=["truncation"])
    indexes = {f["source"]["index"] for f in a.findings}
    assert {345, 688} <= indexes
    assert len(indexes) <= 0.015 * a.summary["examples"]
    c = run_checks("c", workspace=ws_dir, only=["truncation"])
    assert c.summary["flagged_examples"] <= 0.005 * c.summary["examples"]  # unfenced code is not cut prose

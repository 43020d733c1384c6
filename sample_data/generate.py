"""Regenerate sample_data/: a fictional parcel company's support fine-tuning set, in several formats,
plus a production query log whose topic mix differs from the training set.

    python sample_data/generate.py

Deterministic (seeded). Planted problems, so every curate step has something real to find:
exact repeats, near-duplicates (small word edits), broken rows (invalid JSON, unknown role,
wrong column count), empty answers, a truncated answer, a refusal, a repetition loop, and
secrets (an API key, an e-mail address, a phone number). Production queries lean on topics
the training set barely covers (international shipping, the developer API).
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
SYSTEM = "You are Parcelly's support assistant. Be accurate, brief and kind. Never invent tracking data."

# topic -> (user phrasings, assistant answers). {n} is filled with a parcel number.
TOPICS: dict[str, tuple[list[str], list[str]]] = {
    "tracking": (
        ["Where is my parcel {n}?", "My tracking page for {n} hasn't updated in two days, is it lost?",
         "How do I track a parcel without the app?", "The tracking says 'label created' for {n}. What does that mean?",
         "Can I get SMS updates for parcel {n}?"],
        ["You can follow {n} at parcelly.example/track or in the app under Deliveries. Updates appear at each scan; "
         "gaps of up to 48 hours between depots are normal.",
         "'Label created' means the sender has booked the shipment but we have not collected it yet. Once our driver "
         "scans it, live tracking starts.",
         "Yes. Open Deliveries, choose the parcel and turn on 'Text me updates'. You'll get a message at pickup, at the "
         "local depot and when the driver is 30 minutes away."]),
    "delivery_delay": (
        ["My parcel {n} was due yesterday and still isn't here.", "Why is my delivery late again?",
         "The driver never came even though I was home all day.", "Is there a delay in my area today?"],
        ["I'm sorry it's late. When a parcel misses its date we re-route it on the next van, usually within one "
         "working day. If {n} hasn't moved in 3 working days, reply here and I'll open an investigation.",
         "Delays in your area are shown on parcelly.example/status. If nothing is listed, the parcel will be "
         "retried on the next working day at no cost."]),
    "billing": (
        ["I was charged twice for the same shipment.", "Why is there a £2.50 fee on my invoice?",
         "How do I download my invoices for last quarter?", "Can I change the card you charge for my subscription?"],
        ["A double charge is usually a pre-authorisation that drops off within 3-5 working days. If both charges "
         "are still there after 5 days, send me the last four digits of the card and I'll refund the duplicate.",
         "Invoices are under Account > Billing > Invoices. You can filter by date and download a single PDF or a "
         "CSV of all of them.",
         "Go to Account > Billing > Payment method, add the new card and set it as default. The next renewal uses it."]),
    "refund": (
        ["How do I get a refund for a damaged item?", "I cancelled my shipment, when will I get my money back?",
         "Can I get a refund after 30 days?"],
        ["Refunds for cancelled shipments go back to the original payment method within 5 working days.",
         "Report damage within 14 days under Deliveries > Report a problem, with a photo of the parcel and the "
         "item. We refund the shipping cost and, with Parcelly Protect, the item's declared value.",
         "I cannot refund shipping after 30 days, as our terms set that limit. If the parcel never arrived, though, "
         "I can open a lost-parcel claim, which has no time limit."]),
    "account": (
        ["I can't log in, it says my password is wrong.", "How do I reset my password?",
         "How do I delete my Parcelly account?", "Can I change the email on my account?"],
        ["Use 'Forgot password' on the sign-in page; the reset link is valid for 30 minutes. If it doesn't arrive, "
         "check spam or ask me to resend it.",
         "Go to Account > Privacy > Delete account. Open shipments must be delivered or cancelled first; we keep "
         "invoices for 6 years as the law requires.",
         "Yes: Account > Profile > Email. We'll send a confirmation link to the new address before switching."]),
    "address_change": (
        ["Can I change the delivery address for {n}?", "I moved, how do I update my address?",
         "Can you deliver {n} to my neighbour instead?"],
        ["If {n} hasn't left the local depot, open it in the app and choose 'Change delivery'. You can pick a new "
         "address, a neighbour or a Parcelly Point.",
         "Update your default address under Account > Addresses. Shipments already in transit keep the old one "
         "unless you change them individually."]),
}
# Topics production users ask about that training barely covers.
PRODUCTION_ONLY = {
    "international": ["Do you ship to Canada?", "How much are customs fees for a parcel to Germany?",
                      "My international parcel is stuck in customs", "What can't I send to Australia?",
                      "Do I need a commercial invoice to ship to the US?", "How long does shipping to Japan take?"],
    "api": ["How do I get an API key for the Parcelly API?", "The /v2/shipments endpoint returns 429",
            "Is there a webhook for delivery events?", "What's the rate limit on the tracking API?",
            "How do I create a label via the API?", "Sandbox API returns 401 with my test key"],
}
PRODUCTION_MIX = {"tracking": 0.20, "delivery_delay": 0.18, "billing": 0.06, "refund": 0.06, "account": 0.06,
                  "address_change": 0.06, "international": 0.22, "api": 0.16}
FOLLOW_UPS = [("Thanks. And how long does that usually take?", "Usually one to three working days."),
              ("Ok, can I do that from the website too?", "Yes, the website has the same options under your account.")]


def parcel(rng: random.Random) -> str:
    return f"PX{rng.randint(10**8, 10**9 - 1)}"


OPENERS = ["", "", "Hi, ", "Hello! ", "Quick question: ", "Hey there. ", "Good morning, "]
CLOSERS = ["", "", " Thanks.", " Thanks in advance!", " It's a gift so it matters.", " Please help.",
           " I ordered it last week.", " This is the second time."]
NAMES = ["Amira", "Ben", "Chloe", "Dev", "Elena", "Femi", "Grace", "Hugo", "Ines", "Jonas", "Kai", "Lucia"]


def ask(rng: random.Random, template: str, n: str) -> str:
    text = template.format(n=n)
    opener = rng.choice(OPENERS)
    return opener + (text[0].lower() + text[1:] if opener.endswith(": ") else text) + rng.choice(CLOSERS)


def answer(rng: random.Random, template: str, n: str) -> str:
    greet = rng.choice(["", "", f"Hi {rng.choice(NAMES)}! ", "Thanks for reaching out. ", "Happy to help. "])
    return greet + template.format(n=n)


def chat(rng: random.Random, topic: str, turns: int = 1) -> dict:
    asks, answers = TOPICS[topic]
    n = parcel(rng)
    msgs = [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": ask(rng, rng.choice(asks), n)},
            {"role": "assistant", "content": answer(rng, rng.choice(answers), n)}]
    for q, a in rng.sample(FOLLOW_UPS, k=turns - 1):
        msgs += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    return {"messages": msgs, "topic": topic, "agent": rng.choice(["mara", "tobi", "lena", "sam"])}


def edit_words(text: str, rng: random.Random) -> str:
    """A near-duplicate: one or two small word edits."""
    words = text.split()
    for _ in range(rng.randint(1, 2)):
        i = rng.randrange(len(words))
        words[i] = {"the": "a", "a": "the", "is": "was", "you": "u"}.get(words[i].lower(), words[i] + ",")
    return " ".join(words)


def support_chat(rng: random.Random) -> list[str]:
    topics = ["tracking"] * 30 + ["delivery_delay"] * 14 + ["billing"] * 30 + ["refund"] * 16 + \
             ["account"] * 26 + ["address_change"] * 12
    rows = [chat(rng, t, turns=rng.choice([1, 1, 1, 2])) for t in topics]
    # one developer-API example only: production asks about it far more
    rows.append({"messages": [{"role": "system", "content": SYSTEM},
                              {"role": "user", "content": "Where do I find my API key?"},
                              {"role": "assistant", "content": "Developers > API keys in the dashboard. Keys are "
                                                               "shown once; store them in a secret manager."}],
                 "topic": "api", "agent": "sam"})
    lines = [json.dumps(r) for r in rows]
    lines += [lines[3], lines[17], lines[42]]  # exact repeats
    for i in (5, 21, 60, 88):  # near-duplicates
        near = json.loads(lines[i])
        near["messages"][2]["content"] = edit_words(near["messages"][2]["content"], rng)
        lines.append(json.dumps(near))
    planted = [
        '{"messages": [{"role": "user", "content": "Where is my parcel?"}, {"role": "assistant", "content": "It is',
        json.dumps({"messages": [{"role": "customer", "content": "hello?"}, {"role": "assistant", "content": "Hi!"}]}),
        json.dumps({"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Can I pay by "
                    "invoice?"}, {"role": "assistant", "content": "   "}], "topic": "billing"}),
        json.dumps({"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "How do I test "
                    "the API?"}, {"role": "assistant", "content": "Use this key: sk_live_51HqLyjWDarjtT1zdp7dcXa9r2 "
                    "and call /v2/ping."}], "topic": "api", "agent": "tobi"}),
        json.dumps({"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Who do I "
                    "contact about a lost parcel?"}, {"role": "assistant", "content": "Email jane.doe@parcelly-mail."
                    "example or call +44 20 7946 0958 and quote your parcel number."}], "topic": "tracking"}),
        json.dumps({"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Can you tell me "
                    "my neighbour's address?"}, {"role": "assistant", "content": "As an AI language model, I cannot "
                    "help with that."}], "topic": "account"}),
        json.dumps({"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Why was I "
                    "charged a fee?"}, {"role": "assistant", "content": "Please check your invoice. " * 40}],
                    "topic": "billing"}),
        json.dumps({"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "How do I "
                    "change my delivery slot?"}, {"role": "assistant", "content": "Open the parcel in the app and "
                    "tap 'Change delivery', then choose"}], "topic": "address_change"}),
    ]
    lines += planted
    rng.shuffle(lines)
    return lines


def support_faq(rng: random.Random) -> list[dict]:
    out = []
    for topic, (asks, answers) in TOPICS.items():
        for ask in asks:
            n = parcel(rng)
            out.append({"instruction": ask.format(n=n), "input": "", "output": rng.choice(answers).format(n=n),
                        "category": topic})
    out.append(dict(out[2]))  # exact repeat
    out.append({"instruction": "What are Parcelly Points?", "input": "", "output": "", "category": "tracking"})
    out.append({"instruction": "Summarise this complaint for the ticket.",
                "input": "Driver left the parcel in the rain, box soaked, shoes inside are ruined, I want my money.",
                "output": "Parcel left outside in rain; contents (shoes) water-damaged; customer requests refund.",
                "category": "refund"})
    return out


def tool_calls(rng: random.Random) -> list[dict]:
    tools = json.dumps([{"name": "track_parcel", "description": "Latest scan events for a parcel",
                         "parameters": {"type": "object", "properties": {"parcel_id": {"type": "string"}},
                                        "required": ["parcel_id"]}}])
    rows = []
    for _ in range(15):
        n = parcel(rng)
        depot = rng.choice(["Leeds", "Bristol", "Glasgow", "Croydon"])
        rows.append({"conversations": [
            {"from": "human", "value": rng.choice(["Where is {n}?", "Any news on parcel {n}?",
                                                   "Has {n} left the depot?"]).format(n=n)},
            {"from": "function_call", "value": json.dumps({"name": "track_parcel", "arguments": {"parcel_id": n}})},
            {"from": "observation", "value": json.dumps({"status": "at_depot", "depot": depot, "eta": "tomorrow"})},
            {"from": "gpt", "value": f"{n} is at our {depot} depot and is due tomorrow."}],
            "system": SYSTEM, "tools": tools})
    return rows


def escalations(rng: random.Random) -> list[list[str]]:
    rows = [["prompt", "completion", "team"]]
    for _ in range(18):
        n = parcel(rng)
        rows.append([f"Customer says parcel {n} shows delivered but they never got it. Draft the escalation note.",
                     f"Parcel {n} marked delivered, customer reports non-receipt. Check GPS of the final scan and "
                     "the photo proof; if outside 50 m of the address open a lost-parcel claim.",
                     rng.choice(["ops", "claims"])])
    rows.append(["Escalate: courier was rude", "Log the driver ID and forward to the depot lead."])  # missing column
    return rows


def production_queries(rng: random.Random, n: int = 400) -> list[list[str]]:
    rows = [["text", "channel", "ts"]]
    topics, weights = zip(*PRODUCTION_MIX.items())
    for i in range(n):
        topic = rng.choices(topics, weights)[0]
        pool = PRODUCTION_ONLY.get(topic) or TOPICS[topic][0]
        text = rng.choice(pool).format(n=parcel(rng))
        if rng.random() < 0.5:
            text = ask(rng, text, "")
        if rng.random() < 0.3:
            text = text.lower().rstrip("?.") + rng.choice(["", " pls", " asap", "??"])
        rows.append([text, rng.choice(["app", "web", "email"]), f"2026-10-{1 + i % 28:02d}T{i % 24:02d}:00:00Z"])
    return rows


def main() -> None:
    rng = random.Random(20261122)
    (HERE / "support_chat.jsonl").write_text("\n".join(support_chat(rng)) + "\n", encoding="utf-8")
    (HERE / "support_faq.json").write_text(json.dumps(support_faq(rng), indent=2, ensure_ascii=False) + "\n",
                                           encoding="utf-8")
    (HERE / "tool_calls_sharegpt.json").write_text(json.dumps(tool_calls(rng), indent=2) + "\n", encoding="utf-8")
    for name, rows in (("escalations.csv", escalations(rng)), ("production_queries.csv", production_queries(rng))):
        with open(HERE / name, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows(rows)
    print(f"wrote sample data to {HERE}")


if __name__ == "__main__":
    main()

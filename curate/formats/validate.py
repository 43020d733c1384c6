"""Conversation rules every training example must satisfy; faults that chat templates or trainers
would choke on are rejections, softer ones are warnings recorded on the example."""

from __future__ import annotations

from ..errors import RowRejected
from ..record import ROLES, Issue, Message


def validate_query(messages: list[Message]) -> list[Issue]:
    if not any(m.role == "user" for m in messages):
        raise RowRejected("no_user_turn", "a query needs a user turn")
    if not any(m.content.strip() for m in messages if m.role == "user"):
        raise RowRejected("empty_content", "the query text is empty")
    return []


def validate_example(messages: list[Message]) -> list[Issue]:
    """Rejects what trainers or chat templates would break on; returns softer faults as warnings.

    One pass over the turns, since this runs for every row of every ingest.
    """
    warnings: list[Issue] = []
    prev: str | None = None  # role state for the order rules; "assistant+calls" after a tool call
    has_user = has_assistant = trainable = False
    error: RowRejected | None = None
    for i, m in enumerate(messages, 1):
        role = m.role
        if role == "system":
            if prev is not None:
                raise RowRejected("system_not_first", f"turn {i} is a system message after the conversation began")
            if not m.content.strip():
                warnings.append(Issue("empty_system_prompt", f"turn {i}: the system message is empty"))
            continue
        if role not in ROLES:
            raise RowRejected("unknown_role", f"turn {i} has role {role!r}")
        if m.weight is not None and role != "assistant":
            raise RowRejected("invalid_weight", f"turn {i}: weight is only allowed on assistant turns")
        if role == "user":
            has_user = True
            if not m.content.strip():
                raise RowRejected("empty_content", f"turn {i} (user) is empty")
        elif role == "assistant":
            has_assistant = True
            trainable = trainable or m.weight != 0
            if not m.tool_calls and not m.content.strip():
                raise RowRejected("empty_content", f"turn {i} (assistant) is empty")
        if error is None and role not in _NEXT[prev]:
            what = "starts with" if prev is None else f"has {prev.split('+')[0]} then"
            error = RowRejected("roles_not_alternating", f"the conversation {what} {role} (turn {i})")
        if prev == "assistant+calls" and role == "user":
            warnings.append(Issue("tool_call_unanswered", f"turn {i - 1}: a tool call has no tool result after it"))
        prev = "assistant+calls" if role == "assistant" and m.tool_calls else role
    # Missing turns explain an order fault better than the order fault itself.
    if not has_user:
        raise RowRejected("no_user_turn", "the conversation has no user turn")
    if not has_assistant:
        raise RowRejected("no_assistant_turn", "the conversation has no assistant turn")
    if error is not None:
        raise error
    if prev not in ("assistant", "assistant+calls"):
        raise RowRejected("last_turn_not_assistant", f"the last turn is {prev}, not assistant")
    if not trainable:
        warnings.append(Issue("no_trainable_turn", "every assistant turn has weight 0"))
    return warnings


# Which role may follow which: tool results only answer an assistant's tool call.
_NEXT = {
    None: {"user"},
    "user": {"assistant"},
    "assistant": {"user"},
    "assistant+calls": {"tool", "user"},
    "tool": {"tool", "assistant"},
}

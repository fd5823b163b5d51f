"""Registering the people who badge in at benches."""

from station.events import Actor, EventType, NewEvent
from station.orders.model import Operator, Role
from station.orders.names import text_problem
from station.store import Store


def add_operator(store: Store, badge: str, name: str, role: Role, actor: Actor) -> Operator:
    """Add or update an operator (packer or supervisor); recorded as an event."""
    if role not in (Role.PACKER, Role.SUPERVISOR):
        raise ValueError(f"an operator is a packer or a supervisor, not {role}")
    if not badge or not badge.isprintable() or len(badge) > 64:
        raise ValueError("a badge code is 1-64 printable characters")
    if (problem := text_problem(name)) is not None:
        raise ValueError(f"an operator's name must be plain text: {problem}")
    operator = Operator(badge, name, role)
    with store.transaction() as tx:
        tx.repo.upsert_operator(operator)
        tx.append(NewEvent(EventType.OPERATOR_ADDED, actor, None, {"badge": badge, "name": name, "role": role.value}))
    return operator

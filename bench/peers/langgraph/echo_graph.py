"""The LangGraph peer's graph: one node that echoes the last message, no LLM, no network."""

from __future__ import annotations

from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph


class State(TypedDict):
    """The run's input and output: a list of messages as plain dicts."""

    messages: list[dict[str, Any]]


def echo(state: State) -> State:
    """Append an assistant message with the text of the last one."""
    last = state["messages"][-1] if state["messages"] else {"content": ""}
    reply = {"role": "assistant", "content": last.get("content", "")}
    return {"messages": [*state["messages"], reply]}


builder = StateGraph(State)
builder.add_node("echo", echo)
builder.add_edge(START, "echo")
builder.add_edge("echo", END)
graph = builder.compile()

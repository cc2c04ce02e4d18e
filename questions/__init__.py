"""Ask your documents (SPEC §15): questions answered from the session's passages, live, with
numbered citations; offline (extractive) without a model.

`retrieval` finds the passages, `answering` writes the answer as events, `stream` sends
them as Server-Sent Events, `views` wires the URLs, `quota` takes and gives back the daily AI quota.
"""

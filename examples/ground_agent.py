"""A worked agent example: ground a few situations in the bank through the Python client and print the
prompt an LLM would get for each (the model call itself is left to your agent framework).

    normbank serve &                     # or: make serve
    python examples/ground_agent.py [--url http://127.0.0.1:8000] [--k 4]

For each situation the bank returns the norms that bear on it (applicable ones first, conditional ones
with what must still hold), what the agent should find out (`ask`), and `prompt`: the norms as compact
text citing each by id. The agent puts that text in front of the model with the question, and can check
the ids the model cites against `grounded.norms`.
"""

from __future__ import annotations

import argparse

from normbank.client import ApiError, Client

SITUATIONS = [
    # (situation, what the agent already knows about the context)
    ("A 16-year-old customer at a sushi place asks the waiter for a beer.",
     {"setting": "restaurant", "person": {"role": "customer", "attributes": {"age bracket": "teen"}}}),
    ("I bumped into someone on a crowded train and want to say sorry.", {}),
    ("My colleague just helped me finish a report late at night; how do I thank her?", {}),
]

SYSTEM = ("You advise on social conduct. Use only the norms given, cite each one you rely on by its id in "
          "square brackets, and ask about anything the norms say depends on.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--k", type=int, default=4, help="norms per situation")
    args = parser.parse_args()
    with Client(args.url) as bank:
        for situation, context in SITUATIONS:
            try:
                grounded = bank.ground(situation, k=args.k, **context)
            except ApiError as exc:  # e.g. SettingNotFound, InvalidRequest, Unreachable
                print(f"{situation}\n  could not ground it: {exc}\n")
                continue
            print("=" * 100)
            print(f"SYSTEM: {SYSTEM}\n")
            print(f"USER: {situation}\n\n{grounded.prompt}")
            if grounded.ask:
                print("\n(the agent could first ask: " + "; ".join(a.question for a in grounded.ask) + ")")
            print(f"\ncited ids to check the answer against: {', '.join(n.id for n in grounded.norms)}\n")


if __name__ == "__main__":
    main()

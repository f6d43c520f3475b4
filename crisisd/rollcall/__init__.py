"""Roll calls: "are you safe?" with a live headcount (see docs/rollcall.md).

``headcount`` and ``replies`` are pure; ``service`` records answers through the store and
plans re-asks and escalations through the planner, like every other action.
"""

"""Pure VMI rules: stock ledger, positions, review, proposals, emergencies, aging, settlement.

Nothing here does I/O or reads a clock; time is always passed in. Nothing here imports from
`bot`, `handlers` or `messages`.
"""

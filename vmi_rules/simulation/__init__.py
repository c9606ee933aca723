"""What VMI would have done, day by day: seeded demand, three ordering policies side by side
(traditional, VMI as the bot runs it, VMI with the suggested min/max) and their figures.

Pure like the rest of vmi_rules: the calendar's first day and a `random.Random` are passed in,
and the VMI policies call the bot's own review, emergency and suggestion rules.
"""

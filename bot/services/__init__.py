"""What the bot does on a schedule or on demand: reviews, settlement, reminders, status."""

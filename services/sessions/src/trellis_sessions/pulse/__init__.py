"""The pulse of a mentorship: periodic check-ins from each side and feedback in both directions."""

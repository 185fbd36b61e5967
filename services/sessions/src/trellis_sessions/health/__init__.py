"""Health: a 0-100 score with reasons per mentorship, the at-risk watch, and program reports."""

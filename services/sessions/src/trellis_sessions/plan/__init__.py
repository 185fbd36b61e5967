"""The mentorship's plan: its agreement (goals and expectations, signed by both) and its goals
with milestones and recorded progress."""

"""Running the floor: agents' states, the live wallboard, call-handling figures and reports,
supervisors' listen-in and forced actions (kpis.md)."""

"""The working group's dashboard and the CAP 1.2 feed: a front door beside the API, the
bot and the scheduler, served on the API's port (see docs/dashboard.md)."""

"""Delivery channels: one module per kind, one protocol (see base.py)."""

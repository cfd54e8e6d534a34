"""Discrete-event simulation of a QKD network: integer-time event queue, resources, runs."""

from network.simulation.events import NS_PER_S, Event, EventQueue, seconds, to_seconds

__all__ = ["NS_PER_S", "Event", "EventQueue", "seconds", "to_seconds"]

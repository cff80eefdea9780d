"""The realtime channel: rooms, per-room sequence numbers, retained history for resume, fan-out in every process."""

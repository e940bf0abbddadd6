"""Keep your place: a caller who presses 1 in the queue is called back when their turn
comes (desk.py takes the request, scheduler.py decides when, the callbacks dispatcher
places the call)."""

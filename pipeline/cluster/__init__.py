"""GPU workers on Ray Serve: the engine replicas run in a Ray cluster, the bot keeps the rest.

The scheduler still decides what runs next (fair order, batches, persistence before
acknowledgement); with ``cluster.backend: ray`` each worker thread sends its batch to a replica
of the job's model through a Serve deployment handle (:mod:`pipeline.cluster.ray_engine`)
instead of drawing in-process. Nothing here is imported unless that backend is chosen, so Ray
is an optional extra (``pip install '.[ray]'``).
"""

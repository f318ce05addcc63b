"""The hub's toolkit, the bottom layer: settings, database, logs and metrics, Kafka topics and
lag, the learner lifecycle every projection shares, and the streaming machinery (the batch
applier, the faust live path and the bulk path). It imports only the event models (`schemas`,
the producer kit); the projections and producers sit above it, the application (`hub`) on top.
"""

-- Stops the connector on Kafka Connect (spec.state: stopped): its tasks are shut down and their
-- resources released; it keeps its config and offsets.
obj.spec.state = "stopped"
return obj

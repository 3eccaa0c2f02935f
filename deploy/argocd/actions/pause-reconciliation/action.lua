-- Stops every controller action on this connector (no config sync, no state changes, no restarts) until
-- reconciliation is resumed. The connector keeps running on Kafka Connect as it is.
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["connectwarden.io/pause-reconciliation"] = "true"
return obj

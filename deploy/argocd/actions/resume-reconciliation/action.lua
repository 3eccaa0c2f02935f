-- Lets the controller act on this connector again: removes the connectwarden.io/pause-reconciliation
-- annotation.
if obj.metadata.annotations ~= nil then
  obj.metadata.annotations["connectwarden.io/pause-reconciliation"] = nil
end
return obj

-- Restarts the connector and all its tasks, once. Each new value of connectwarden.io/restart is one
-- request; the controller records the value it handled in status.lastHandledRestart and leaves the
-- annotation in place, so a timestamp makes every run of this action a new request.
-- Argo CD exposes os.date only through require("os").
local os = require("os")
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["connectwarden.io/restart"] = os.date("!%Y-%m-%dT%H:%M:%SZ") .. ",includeTasks"
return obj

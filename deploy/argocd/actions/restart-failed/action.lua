-- Restarts only what FAILED: the connector if it failed, and its failed tasks. Each new value of
-- connectwarden.io/restart is one request (recorded in status.lastHandledRestart), so a timestamp makes
-- every run of this action a new request.
-- Argo CD exposes os.date only through require("os").
local os = require("os")
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["connectwarden.io/restart"] = os.date("!%Y-%m-%dT%H:%M:%SZ") .. ",includeTasks,onlyFailed"
return obj

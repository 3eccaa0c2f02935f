-- Argo CD resource actions for connectwarden.io/KafkaConnector: which ones the UI offers, and which of
-- them are enabled for this object. Argo CD runs this with Lua 5.1 (gopher-lua), only the base and table
-- libraries, and the global `obj`.
local actions = {}
local annotations = obj.metadata.annotations or {}
local spec = obj.spec or {}
local status = obj.status or {}
local paused = annotations["connectwarden.io/pause-reconciliation"] == "true"
local state = spec.state or "running"

local failed = status.connectorState == "FAILED"
for _, t in ipairs(status.tasks or {}) do
  if t.state == "FAILED" then
    failed = true
  end
end

-- Everything but resume needs a controller that acts on this object; restarts need a running connector.
actions["restart"] = {
  ["displayName"] = "Restart connector and tasks",
  ["iconClass"] = "fa fa-fw fa-redo",
  ["disabled"] = paused or state ~= "running",
}
actions["restart-failed"] = {
  ["displayName"] = "Restart failed connector and tasks",
  ["iconClass"] = "fa fa-fw fa-redo",
  ["disabled"] = paused or state ~= "running" or not failed,
}
actions["pause-reconciliation"] = {
  ["displayName"] = "Pause reconciliation",
  ["iconClass"] = "fa fa-fw fa-pause-circle",
  ["disabled"] = paused,
}
actions["resume-reconciliation"] = {
  ["displayName"] = "Resume reconciliation",
  ["iconClass"] = "fa fa-fw fa-play-circle",
  ["disabled"] = not paused,
}
actions["stop"] = {
  ["displayName"] = "Stop connector",
  ["iconClass"] = "fa fa-fw fa-stop",
  ["disabled"] = paused or state == "stopped",
}
actions["start"] = {
  ["displayName"] = "Start connector",
  ["iconClass"] = "fa fa-fw fa-play",
  ["disabled"] = paused or state == "running",
}
return actions

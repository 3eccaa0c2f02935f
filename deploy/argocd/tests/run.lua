-- Evaluates ../health.lua against sample KafkaConnector objects, as Argo CD does (a global `obj`, the
-- script's return value is the health). Runs on Lua 5.1 (what Argo CD's gopher-lua implements) and 5.4.
-- Usage: lua tests/run.lua health.lua
local script = arg[1] or "health.lua"
local harness = dofile((arg[0]:match("^(.*[/\\])") or "") .. "harness.lua")

local function conditions(ready_status, reason, message, extra)
  local list = { { type = "Ready", status = ready_status, reason = reason, message = message } }
  if extra ~= nil then
    table.insert(list, extra)
  end
  return list
end

local function connector(opts)
  return {
    apiVersion = "connectwarden.io/v1alpha1",
    kind = "KafkaConnector",
    metadata = { name = "orders", namespace = "team-a", generation = opts.generation or 2,
                 annotations = opts.annotations },
    spec = { class = "FileStreamSink", state = opts.state },
    status = opts.status,
  }
end

-- A connector whose status is of its current generation, with a Ready condition (and `extra`, optional).
local function current(ready_status, reason, message, opts)
  opts = opts or {}
  opts.status = { observedGeneration = 2, conditions = conditions(ready_status, reason, message, opts.extra) }
  return connector(opts)
end

local cases = {
  { name = "running and current is Healthy", want = "Healthy", contains = "2/2 tasks RUNNING",
    obj = current("True", "Running", "connector RUNNING, 2/2 tasks RUNNING") },
  { name = "no status yet is Progressing", want = "Progressing", contains = "Waiting for the controller",
    obj = connector({}) },
  { name = "status of an older generation is Progressing", want = "Progressing", contains = "generation 3",
    obj = connector({ generation = 3, status = { observedGeneration = 2,
      conditions = conditions("True", "Running", "connector RUNNING") } }) },
  { name = "an old generation's failure is not reported as current", want = "Progressing",
    obj = connector({ generation = 3, status = { observedGeneration = 2,
      conditions = conditions("False", "ConnectorFailed", "boom") } }) },
  { name = "missing observedGeneration is Progressing", want = "Progressing",
    obj = connector({ status = { conditions = conditions("True", "Running", "") } }) },
  { name = "creating is Progressing", want = "Progressing", contains = "Creating: creating connector",
    obj = current("False", "Creating", "creating connector \"orders\"") },
  { name = "rebalancing is Progressing", want = "Progressing", obj = current("False", "Rebalancing", "409") },
  { name = "Ready condition missing is Progressing", want = "Progressing",
    obj = connector({ status = { observedGeneration = 2, conditions = {} } }) },
  { name = "connector failed is Degraded", want = "Degraded", contains = "ConnectorFailed: ",
    obj = current("False", "ConnectorFailed", "connector FAILED on worker w1") },
  { name = "task failed is Degraded", want = "Degraded", contains = "TaskFailed",
    obj = current("False", "TaskFailed", "1/2 tasks FAILED") },
  { name = "restarts exhausted is Degraded", want = "Degraded", contains = "RestartsExhausted",
    obj = current("False", "RestartsExhausted", "5 restarts") },
  { name = "invalid config is Degraded", want = "Degraded", contains = "InvalidConfig: spec.config",
    obj = current("False", "InvalidConfig", "spec.config.batch.size is a number") },
  { name = "cluster unreachable is Degraded", want = "Degraded", contains = "ClusterUnreachable",
    obj = current("False", "ClusterUnreachable", "timeout") },
  { name = "another writer holding the controller off is Degraded", want = "Degraded", contains = "Contended",
    obj = current("False", "Contended", "another writer keeps changing connector \"orders\" on Kafka Connect") },
  { name = "Stalled=True is Degraded whatever Ready says", want = "Degraded", contains = "NameConflict",
    obj = current("False", "Unknown", "", { extra =
      { type = "Stalled", status = "True", reason = "NameConflict", message = "team-b/orders owns it" } }) },
  { name = "paused is Suspended", want = "Suspended", contains = "Paused",
    obj = current("True", "Paused", "connector PAUSED", { state = "paused" }) },
  { name = "stopped is Suspended", want = "Suspended", contains = "Stopped",
    obj = current("True", "Stopped", "connector STOPPED", { state = "stopped" }) },
  { name = "pausing in progress is Progressing", want = "Progressing", contains = "Pausing",
    obj = current("False", "Pausing", "pausing", { state = "paused" }) },
  { name = "reconciliation paused by annotation is Suspended", want = "Suspended", contains = "pause-reconciliation",
    obj = current("False", "ConnectorFailed", "",
      { annotations = { ["connectwarden.io/pause-reconciliation"] = "true" } }) },
  { name = "ReconciliationPaused reason is Suspended", want = "Suspended",
    obj = current("False", "ReconciliationPaused", "") },
}

-- Runs the script with `obj` as a global.
local function evaluate(obj)
  return harness.run(script, setmetatable({ obj = obj }, { __index = _G }))
end

local failures = 0
for _, c in ipairs(cases) do
  local ok, hs = pcall(evaluate, c.obj)
  local problem = nil
  if not ok then
    problem = "error: " .. tostring(hs)
  elseif type(hs) ~= "table" or hs.status ~= c.want then
    problem = "got " .. tostring(hs and hs.status) .. " (" .. tostring(hs and hs.message) .. "), want " .. c.want
  elseif type(hs.message) ~= "string" or hs.message == "" then
    problem = "no message"
  elseif c.contains ~= nil and string.find(hs.message, c.contains, 1, true) == nil then
    problem = "message " .. string.format("%q", hs.message) .. " lacks " .. string.format("%q", c.contains)
  end
  if problem == nil then
    print("ok   " .. c.name)
  else
    failures = failures + 1
    print("FAIL " .. c.name .. ": " .. problem)
  end
end
print(string.format("%d cases, %d failed (%s)", #cases, failures, _VERSION))
if failures > 0 then
  os.exit(1)
end

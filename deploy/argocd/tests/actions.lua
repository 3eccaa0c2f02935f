-- Evaluates the resource actions under ../actions/ against sample KafkaConnector objects, in an environment
-- like Argo CD's: the global `obj`, only the base and table libraries, and os.time/os.date reachable only
-- through require("os") (a script that uses string, math, io or a global os fails here as it would there).
-- Runs on Lua 5.1 (what Argo CD's gopher-lua implements) and 5.4.
-- Usage: lua tests/actions.lua   (from deploy/argocd)

local harness = dofile((arg[0]:match("^(.*[/\\])") or "") .. "harness.lua")
local real_os = os

-- A deep copy, so that every case starts from its own object.
local function copy(v)
  if type(v) ~= "table" then
    return v
  end
  local out = {}
  for k, x in pairs(v) do
    out[k] = copy(x)
  end
  return out
end

-- Runs a script on obj with Argo CD's libraries; `clock` (optional) replaces os.date.
local function evaluate(path, obj, clock)
  local safe_os = { time = real_os.time, date = clock or real_os.date }
  local env = {
    obj = obj,
    require = function(name)
      if name == "os" then
        return safe_os
      end
      error("module '" .. tostring(name) .. "' not found")
    end,
    assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs, pcall = pcall,
    rawequal = rawequal, rawget = rawget, rawset = rawset, select = select, setmetatable = setmetatable,
    getmetatable = getmetatable, tonumber = tonumber, tostring = tostring, type = type, unpack = unpack,
    xpcall = xpcall, table = table, _VERSION = _VERSION,
  }
  env._G = env
  return harness.run(path, env)
end

local function connector(opts)
  return {
    apiVersion = "connectwarden.io/v1alpha1",
    kind = "KafkaConnector",
    metadata = { name = "orders", namespace = "team-a", generation = 2, annotations = opts.annotations },
    spec = { class = "FileStreamSink", state = opts.state, config = { topics = "orders" } },
    status = opts.status,
  }
end

local running = { observedGeneration = 2, connectorState = "RUNNING",
  tasks = { { id = 0, state = "RUNNING" }, { id = 1, state = "RUNNING" } },
  conditions = { { type = "Ready", status = "True", reason = "Running", message = "2/2 tasks RUNNING" } } }
local task_failed = { observedGeneration = 2, connectorState = "RUNNING",
  tasks = { { id = 0, state = "RUNNING" }, { id = 1, state = "FAILED", trace = "boom" } },
  conditions = { { type = "Ready", status = "False", reason = "TaskFailed", message = "1/2 tasks FAILED" } } }
local connector_failed = { observedGeneration = 2, connectorState = "FAILED", tasks = {},
  conditions = { { type = "Ready", status = "False", reason = "ConnectorFailed", message = "FAILED" } } }

local TIMESTAMP = "^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ"

local failures, count = 0, 0
local function check(name, ok, detail)
  count = count + 1
  if ok then
    print("ok   " .. name)
  else
    failures = failures + 1
    print("FAIL " .. name .. ": " .. tostring(detail))
  end
end

-- Runs `fn`, turning a script error into a failure of the case.
local function case(name, fn)
  local ok, err = pcall(fn)
  if not ok then
    check(name, false, "error: " .. tostring(err))
  end
end

-- discovery.lua: which actions are offered, and which are enabled.
local function enabled_set(obj)
  local actions = evaluate("actions/discovery.lua", obj)
  local out = {}
  for name, a in pairs(actions) do
    if type(a.displayName) ~= "string" or a.displayName == "" then
      error("action " .. name .. " has no displayName")
    end
    out[name] = not a.disabled
  end
  return out
end

local function expect_enabled(name, obj, want)
  case(name, function()
    local got = enabled_set(obj)
    local problems = {}
    for action, on in pairs(want) do
      if got[action] ~= on then
        table.insert(problems, action .. " enabled=" .. tostring(got[action]) .. ", want " .. tostring(on))
      end
    end
    for action in pairs(got) do
      if want[action] == nil then
        table.insert(problems, "unexpected action " .. action)
      end
    end
    check(name, #problems == 0, table.concat(problems, "; "))
  end)
end

expect_enabled("discovery: a healthy running connector", connector({ status = running }), {
  ["restart"] = true, ["restart-failed"] = false, ["pause-reconciliation"] = true,
  ["resume-reconciliation"] = false, ["stop"] = true, ["start"] = false })
expect_enabled("discovery: a failed task enables restart-failed", connector({ status = task_failed }), {
  ["restart"] = true, ["restart-failed"] = true, ["pause-reconciliation"] = true,
  ["resume-reconciliation"] = false, ["stop"] = true, ["start"] = false })
expect_enabled("discovery: a failed connector enables restart-failed", connector({ status = connector_failed }), {
  ["restart"] = true, ["restart-failed"] = true, ["pause-reconciliation"] = true,
  ["resume-reconciliation"] = false, ["stop"] = true, ["start"] = false })
expect_enabled("discovery: paused reconciliation offers only resume", connector({ status = task_failed,
  annotations = { ["connectwarden.io/pause-reconciliation"] = "true" } }), {
  ["restart"] = false, ["restart-failed"] = false, ["pause-reconciliation"] = false,
  ["resume-reconciliation"] = true, ["stop"] = false, ["start"] = false })
expect_enabled("discovery: a stopped connector can be started, not restarted", connector({ state = "stopped",
  status = running }), {
  ["restart"] = false, ["restart-failed"] = false, ["pause-reconciliation"] = true,
  ["resume-reconciliation"] = false, ["stop"] = false, ["start"] = true })
expect_enabled("discovery: a paused connector can be started and stopped", connector({ state = "paused" }), {
  ["restart"] = false, ["restart-failed"] = false, ["pause-reconciliation"] = true,
  ["resume-reconciliation"] = false, ["stop"] = true, ["start"] = true })
expect_enabled("discovery: no annotations and no status yet", connector({}), {
  ["restart"] = true, ["restart-failed"] = false, ["pause-reconciliation"] = true,
  ["resume-reconciliation"] = false, ["stop"] = true, ["start"] = false })

-- The actions: each returns the object with exactly the intended change.
local function run_action(name, obj, clock)
  local out = evaluate("actions/" .. name .. "/action.lua", obj, clock)
  if type(out) ~= "table" or out.kind ~= "KafkaConnector" or out.metadata.name ~= "orders" then
    error(name .. " did not return the object")
  end
  return out
end

local function restart_value(name, obj, clock)
  local out = run_action(name, obj, clock)
  return (out.metadata.annotations or {})["connectwarden.io/restart"], out
end

case("restart: a timestamp with includeTasks", function()
  local v, out = restart_value("restart", connector({ status = running }))
  check("restart: a timestamp with includeTasks",
    type(v) == "string" and string.find(v, TIMESTAMP .. ",includeTasks$") ~= nil
      and out.status.connectorState == "RUNNING", v)
end)

case("restart: a new value on every run", function()
  local t = 0
  local clock = function(fmt)
    t = t + 1
    return real_os.date(fmt, 1700000000 + t)
  end
  local first = restart_value("restart", connector({}), clock)
  local second = restart_value("restart", connector({ annotations = { ["connectwarden.io/restart"] = first } }), clock)
  check("restart: a new value on every run", first ~= second and string.find(second, TIMESTAMP) ~= nil,
    tostring(first) .. " then " .. tostring(second))
end)

case("restart: uses UTC", function()
  local asked
  local clock = function(fmt)
    asked = fmt
    return real_os.date(fmt)
  end
  restart_value("restart", connector({}), clock)
  check("restart: uses UTC", asked ~= nil and string.sub(asked, 1, 1) == "!", asked)
end)

case("restart: keeps the other annotations", function()
  local _, out = restart_value("restart", connector({ annotations = { team = "a" } }))
  check("restart: keeps the other annotations", out.metadata.annotations.team == "a", out.metadata.annotations.team)
end)

case("restart-failed: a timestamp with includeTasks,onlyFailed", function()
  local v = restart_value("restart-failed", connector({ status = task_failed }))
  check("restart-failed: a timestamp with includeTasks,onlyFailed",
    type(v) == "string" and string.find(v, TIMESTAMP .. ",includeTasks,onlyFailed$") ~= nil, v)
end)

case("pause-reconciliation sets the switch", function()
  local out = run_action("pause-reconciliation", connector({}))
  check("pause-reconciliation sets the switch",
    out.metadata.annotations["connectwarden.io/pause-reconciliation"] == "true", out.metadata.annotations)
end)

case("resume-reconciliation removes the switch and keeps the rest", function()
  local out = run_action("resume-reconciliation", connector({ annotations = {
    ["connectwarden.io/pause-reconciliation"] = "true", team = "a" } }))
  check("resume-reconciliation removes the switch and keeps the rest",
    out.metadata.annotations["connectwarden.io/pause-reconciliation"] == nil and out.metadata.annotations.team == "a",
    out.metadata.annotations["connectwarden.io/pause-reconciliation"])
end)

case("resume-reconciliation without annotations", function()
  local out = run_action("resume-reconciliation", connector({}))
  check("resume-reconciliation without annotations", out.metadata.annotations == nil, out.metadata.annotations)
end)

case("stop sets spec.state stopped", function()
  local out = run_action("stop", connector({ status = running }))
  check("stop sets spec.state stopped", out.spec.state == "stopped" and out.spec.config.topics == "orders", out.spec.state)
end)

case("start sets spec.state running", function()
  local out = run_action("start", connector({ state = "stopped" }))
  check("start sets spec.state running", out.spec.state == "running", out.spec.state)
end)

case("no action touches status", function()
  local names = { "restart", "restart-failed", "pause-reconciliation", "resume-reconciliation", "stop", "start" }
  local bad = {}
  for _, name in ipairs(names) do
    local before = connector({ status = copy(task_failed) })
    local out = run_action(name, before)
    if out.status.conditions[1].reason ~= "TaskFailed" or out.status.tasks[2].state ~= "FAILED" then
      table.insert(bad, name)
    end
  end
  check("no action touches status", #bad == 0, table.concat(bad, ", "))
end)

print(string.format("%d action cases, %d failed (%s)", count, failures, _VERSION))
if failures > 0 then
  real_os.exit(1)
end

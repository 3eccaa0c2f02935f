-- Argo CD health check for connectwarden.io/KafkaConnector, from the Ready condition the controller writes
-- (plus kstatus' Stalled). Argo CD runs Lua 5.1 (gopher-lua): keep to that subset.
local hs = {}

local function condition(kind)
  if obj.status ~= nil and obj.status.conditions ~= nil then
    for _, c in ipairs(obj.status.conditions) do
      if c.type == kind then
        return c
      end
    end
  end
  return nil
end

local function describe(c)
  local text = c.reason or "Unknown"
  if c.message ~= nil and c.message ~= "" then
    text = text .. ": " .. c.message
  end
  return text
end

-- Failures a retry alone does not fix, or that stop data flowing: Degraded.
local degraded = {
  ConnectorFailed = true,
  TaskFailed = true,
  RestartsExhausted = true,
  InvalidConfig = true,
  ClusterUnreachable = true,
  ClusterNotAllowed = true,
  NameConflict = true,
  Contended = true,
  PluginNotFound = true,
  Unauthorized = true,
}

local annotations = obj.metadata.annotations or {}
if annotations["connectwarden.io/pause-reconciliation"] == "true" then
  hs.status = "Suspended"
  hs.message = "Reconciliation is paused by the connectwarden.io/pause-reconciliation annotation"
  return hs
end

if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the controller to report status"
  return hs
end

local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the controller to observe generation " .. tostring(generation)
  return hs
end

local ready = condition("Ready")
local stalled = condition("Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled)
  return hs
end
if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Ready condition"
  return hs
end
if degraded[ready.reason or ""] then
  hs.status = "Degraded"
  hs.message = describe(ready)
  return hs
end
if ready.reason == "ReconciliationPaused" then
  hs.status = "Suspended"
  hs.message = describe(ready)
  return hs
end
if ready.status == "True" then
  local wanted = (obj.spec or {}).state
  if ready.reason == "Paused" or ready.reason == "Stopped" or wanted == "paused" or wanted == "stopped" then
    hs.status = "Suspended"
  else
    hs.status = "Healthy"
  end
  hs.message = describe(ready)
  return hs
end

-- Creating, Starting, Updating, Pausing, Rebalancing, a cluster not ready yet, ...: still converging.
hs.status = "Progressing"
hs.message = describe(ready)
return hs

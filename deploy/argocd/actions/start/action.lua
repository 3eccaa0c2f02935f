-- Runs a stopped or paused connector again (spec.state: running).
obj.spec.state = "running"
return obj

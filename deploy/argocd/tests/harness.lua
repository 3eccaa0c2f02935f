-- Shared by the tests here. Load it with dofile, relative to the test script.
local harness = {}

-- Runs the script at path with env as its globals, on 5.1 (setfenv) and 5.2+ (load with env), and returns
-- what the script returns.
function harness.run(path, env)
  local chunk, err
  if setfenv ~= nil then
    chunk, err = loadfile(path)
    if chunk ~= nil then
      setfenv(chunk, env)
    end
  else
    chunk, err = loadfile(path, "t", env)
  end
  if chunk == nil then
    error(err)
  end
  return chunk()
end

return harness

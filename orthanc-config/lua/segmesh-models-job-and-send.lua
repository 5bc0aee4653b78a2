-- segmesh sample: once a study is stable, ask segmesh for the STL models of each of its SEG and
-- RT-STRUCT instances as a job and, when the job ends, send the new models (them only, not the
-- sources or images) to the Orthanc peer or DICOM modality the configuration names:
--
--   "LuaScripts": ["/path/to/segmesh/orthanc-config/lua/segmesh-models-job-and-send.lua"],
--   "SegMeshSendTo": {"Peer": "archive"},       -- a name in "OrthancPeers", or
--   "SegMeshSendTo": {"Modality": "planning"},  -- a name in "DicomModalities"
--
-- Orthanc's Lua has no timers and all its callbacks share one thread, so no callback waits for
-- a job. The jobs asked for are kept in a table and checked when their study is updated:
-- segmesh keeps its job records in the study's metadata, so each change of a job's state,
-- its end included, calls OnUpdatedStudy (Orthanc 1.6.0 and later; OnHeartBeat would need
-- Orthanc 1.11.1 and would only poll). The table lives in memory: a job that ends after a
-- restart of Orthanc is not sent.
--
-- Enable this script or segmesh-auto-stl.lua, not both (each would mesh every source), and no
-- other script defining OnStableStudy or OnUpdatedStudy (Lua scripts share their globals).

-- Body of POST /instances/{id}/segmesh/stl: Taubin smoothing, half the triangles removed.
local MODELS_BODY = '{"Smoothing": "taubin", "Iterations": 20, "Decimate": 0.5, "Asynchronous": true}'
local MODELS_PARAMETERS = ParseJson(MODELS_BODY)

-- segmesh job id -> {Instance = source id, Study = its study}: the jobs this script asked for
-- whose models are not sent yet.
local pendingJobs = {}

-- The store route of "SegMeshSendTo" (e.g. "/peers/archive/store"), or nil and the reason.
local function StoreRoute()
   local target = GetOrthancConfiguration()['SegMeshSendTo']
   if type(target) ~= 'table' then
      return nil, 'no "SegMeshSendTo" in the configuration'
   end
   local peer, modality = target['Peer'], target['Modality']
   if type(peer) == 'string' and modality == nil then
      return '/peers/' .. peer .. '/store'
   elseif type(modality) == 'string' and peer == nil then
      return '/modalities/' .. modality .. '/store'
   end
   return nil, '"SegMeshSendTo" must be {"Peer": name} or {"Modality": name}'
end

-- True for a SEG or RT-STRUCT series segmesh did not write (its conversions are SEG and
-- RTSTRUCT too; its models are M3D): only sources get models.
local function IsSource(mainTags)
   local modality = mainTags['Modality']
   return (modality == 'SEG' or modality == 'RTSTRUCT') and mainTags['Manufacturer'] ~= 'segmesh'
end

local function HasModelParameters(parameters)
   for key, value in pairs(MODELS_PARAMETERS) do
      if parameters[key] ~= value then
         return false
      end
   end
   for key in pairs(parameters) do
      if MODELS_PARAMETERS[key] == nil then
         return false
      end
   end
   return true
end

-- The segmesh job of this script's models of instanceId that is pending, running or done.
local function FindModelsJob(instanceId)
   local answer = RestApiGet('/instances/' .. instanceId .. '/segmesh/status')
   if answer == nil then
      return nil
   end
   for _, job in ipairs(ParseJson(answer)['Jobs']) do
      if job['Kind'] == 'InstanceModels' and HasModelParameters(job['Parameters'])
         and job['State'] ~= 'Failure' and job['State'] ~= 'Cancelled' then
         return job
      end
   end
   return nil
end

local function AskModels(studyId, instanceId)
   local asked = FindModelsJob(instanceId)
   if asked ~= nil then
      -- The study is stable again once the models are stored.
      print('segmesh: models of ' .. instanceId .. ' already asked for as job ' .. asked['ID'])
      return
   end
   -- segmesh answers 202 with the job's id, but Lua's RestApiPost gives only the body of a 200
   -- (and Orthanc logs "Error in RestApiPost()"): the job is found in the instance's status.
   pcall(RestApiPost, '/instances/' .. instanceId .. '/segmesh/stl', MODELS_BODY)
   local job = FindModelsJob(instanceId)
   if job == nil then
      print('segmesh: no models job for ' .. instanceId .. ' (segmesh logged why)')
      return
   end
   pendingJobs[job['ID']] = {Instance = instanceId, Study = studyId}
   print('segmesh: models of ' .. instanceId .. ' asked for as job ' .. job['ID'])
end

local function SendModels(job, route)
   local ids = {}
   for _, model in ipairs(job['Result']['Instances']) do
      table.insert(ids, '"' .. model['ID'] .. '"')
   end
   -- Orthanc's own job: the Lua thread does not wait for the transfer (or a peer that is down).
   local body = '{"Resources": [' .. table.concat(ids, ', ') .. '], "Asynchronous": true}'
   local answer = RestApiPost(route, body)
   if answer == nil then
      print('segmesh: the models of job ' .. job['ID'] .. ' could not be sent with ' .. route)
   else
      print('segmesh: ' .. #ids .. ' models of job ' .. job['ID'] .. ' sent with ' .. route
               .. ' by Orthanc job ' .. ParseJson(answer)['ID'])
   end
end

-- Send the models of the study's jobs that succeeded; forget those that failed or were
-- cancelled.
local function CheckJobs(studyId)
   for jobId, asked in pairs(pendingJobs) do
      if asked['Study'] == studyId then
         local answer = RestApiGet('/segmesh/jobs/' .. jobId)
         local job = answer and ParseJson(answer)
         if job == nil then
            pendingJobs[jobId] = nil
         elseif job['State'] == 'Success' then
            pendingJobs[jobId] = nil
            local route, problem = StoreRoute()
            if route == nil then
               print('segmesh: the models of job ' .. jobId .. ' are not sent: ' .. problem)
            else
               SendModels(job, route)
            end
         elseif job['State'] == 'Failure' or job['State'] == 'Cancelled' then
            pendingJobs[jobId] = nil
            local failure = job['Error'] or {}
            print('segmesh: no models of ' .. asked['Instance'] .. ': job ' .. jobId
                     .. ' ended in ' .. job['State'] .. ': ' .. tostring(failure['Error'])
                     .. ': ' .. tostring(failure['Details']))
         end
      end
   end
end

function OnUpdatedStudy(studyId)
   CheckJobs(studyId)
end

function OnStableStudy(studyId, tags, metadata)
   local route, problem = StoreRoute()
   if route == nil then
      print('segmesh: no models asked for in study ' .. studyId .. ': ' .. problem)
      return
   end
   local answer = RestApiGet('/studies/' .. studyId .. '/series')
   if answer == nil then
      return
   end
   for _, series in ipairs(ParseJson(answer)) do
      if IsSource(series['MainDicomTags']) then
         for _, instanceId in ipairs(series['Instances']) do
            AskModels(studyId, instanceId)
         end
      end
   end
end

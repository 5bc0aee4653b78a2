-- segmesh sample: store STL models of every segment when a DICOM SEG or RT-STRUCT arrives.
--
-- Enable it in orthanc.json:  "LuaScripts": ["/path/to/segmesh/orthanc-config/lua/segmesh-auto-stl.lua"]
-- It waits for the series to be stable ("StableAge" seconds without a new instance), so that the
-- referenced CT sent in the same association is usually stored too, then calls segmesh's REST
-- route. Repeating is harmless: segmesh derives the models' UIDs, Orthanc keeps no duplicates.

-- Body of POST /instances/{id}/segmesh/stl: Taubin smoothing, half the triangles removed.
local SEGMESH_BODY = '{"Smoothing": "taubin", "Iterations": 20, "Decimate": 0.5}'

function OnStableSeries(seriesId, tags, metadata)
   local modality = tags['Modality']
   -- segmesh's own models are modality M3D: they never trigger this script again.
   if modality ~= 'SEG' and modality ~= 'RTSTRUCT' then
      return
   end
   local series = ParseJson(RestApiGet('/series/' .. seriesId))
   for _, instanceId in ipairs(series['Instances']) do
      local ok, answer = pcall(RestApiPost, '/instances/' .. instanceId .. '/segmesh/stl',
                               SEGMESH_BODY)
      if ok then
         local models = ParseJson(answer)
         print('segmesh: ' .. #models['Instances'] .. ' STL models of ' .. modality .. ' '
                  .. instanceId .. ' stored in series ' .. models['Series'])
      else
         print('segmesh: no STL models for ' .. modality .. ' ' .. instanceId .. ': '
                  .. tostring(answer))
      end
   end
end

/* A test-only Orthanc plugin: records every audit log entry Orthanc hands to plugins as one
 * tab-separated line (source, user, resource type, resource, action, data) in the file named
 * by SEGMESH_AUDIT_FILE. orthanc-python cannot register an audit-log handler, and the
 * authorization plugin, which keeps them, is not packaged in Debian. Built by
 * tests/test_runtime_features.py where Orthanc's SDK (orthanc-dev) and a C compiler exist. */
#include <orthanc/OrthancCPlugin.h>
#include <stdio.h>
#include <stdlib.h>

static FILE* output_ = NULL;

static OrthancPluginErrorCode Record(const char* sourcePlugin, const char* userId,
                                     OrthancPluginResourceType resourceType,
                                     const char* resourceId, const char* action,
                                     const void* logData, uint32_t logDataSize)
{
  fprintf(output_, "%s\t%s\t%d\t%s\t%s\t%.*s\n", sourcePlugin, userId, (int) resourceType,
          resourceId, action, (int) logDataSize, (const char*) logData);
  fflush(output_);
  return OrthancPluginErrorCode_Success;
}

ORTHANC_PLUGINS_API int32_t OrthancPluginInitialize(OrthancPluginContext* context)
{
  const char* path = getenv("SEGMESH_AUDIT_FILE");
  output_ = fopen(path == NULL ? "/dev/null" : path, "a");
  if (output_ == NULL)
  {
    return -1;
  }
  return OrthancPluginRegisterAuditLogHandler(context, Record);
}

ORTHANC_PLUGINS_API void OrthancPluginFinalize(void)
{
  if (output_ != NULL)
  {
    fclose(output_);
  }
}

ORTHANC_PLUGINS_API const char* OrthancPluginGetName(void)
{
  return "segmesh-test-audit-recorder";
}

ORTHANC_PLUGINS_API const char* OrthancPluginGetVersion(void)
{
  return "1.0";
}

"""The four sample payloads of the seed API document, verbatim.

Source: /work/shared/seed/baas-enterprise-jobs-api.txt (J1 job list, J2 job by id, J4 site
executions, J5 job executions). Tests check that the simulator's answers carry every field of
these samples, recursively.
"""

from __future__ import annotations

import json

JOB_LIST_TEXT = """\
[
{
"site_id": "string",
"auto_abort_in_minutes": 0,
"backup_type": "FULL",
"description": "test backup plan for employee database",
"is_active": true,
"is_auto_abort_active": false,
"job_id": 34,
"job_type": "BACKUP",
"last_execution_details": {
"end_time": "2022-12-07T11:35:00.000000Z",
"start_time": "2022-12-07T11:31:00.000000Z",
"status": "SUCCESSFUL",
"backup_set_size": 1000000,
"backup_job_id": 34,
"backup_job_execution_id": 121,
"restore_execution_id": 121
},
"name": "test_backup_plan",
"next_run_time": "2022-12-08T11:31:02.282298Z",
"no_of_retention_copies": 2,
"priority": 1,
"siteTargetType": "AWS",
"backup_mechanism": "DSA",
"targetSiteDetails": {
"target_site_id": "string",
"target_retention_copies_count": 0,
"target_retention_source": "string"
}
}
]
"""

JOB_LIST = json.loads(JOB_LIST_TEXT)

JOB_BY_ID_TEXT = """\
{
"site_id": "string",
"auto_abort_in_minutes": 0,
"backup_type": "FULL",
"description": "test backup plan for employee database",
"job_settings": {
"online": false,
"objects": [
{
"exclude_objects": [
{
"object_name": "DEPARTMENT",
"object_type": "DATABASE"
}
],
"include_all": true,
"object_name": "EMPLOYEE",
"object_type": "DATABASE",
"parent_name": "DBC",
"parent_type": "DATABASE",
"rename_to": "string"
}
],
"continue_job_on_access_right_violation": true,
"run_as_a_copy_job": true,
"restore_to_a_different_database_on_target_site": "DATABASE_NAME",
"skip_statstics": true,
"retained_copy": "string"
},
"is_active": true,
"is_auto_abort_active": false,
"job_id": 34,
"job_type": "BACKUP",
"last_execution_details": {
"end_time": "2022-12-07T11:35:00.000000Z",
"start_time": "2022-12-07T11:31:00.000000Z",
"status": "SUCCESSFUL",
"backup_set_size": 1000000,
"backup_job_id": 34,
"backup_job_execution_id": 121,
"restore_execution_id": 121
},
"name": "test_backup_plan",
"next_run_time": "2022-12-08T11:31:02.282298Z",
"no_of_retention_copies": 2,
"siteTargetType": "AWS",
"targetSiteDetails": {
"target_site_id": "string",
"target_retention_copies_count": 0,
"target_retention_source": "string"
},
"priority": 1,
"backup_mechanism": "DSA"
}
"""

JOB_BY_ID = json.loads(JOB_BY_ID_TEXT)

ALL_EXECUTIONS_TEXT = """\
[
{
"site_id": "string",
"target_site": "string",
"job_id": 0,
"job_name": "string",
"backup_mechanism": "DSA",
"job_type": "RESTORE",
"execution_id": "string",
"execution_name": "string",
"start_time": "string",
"end_time": "string",
"backup_set_size": 0,
"server_execution_id": "string",
"parent_execution_id": "string",
"status": "SUCCESSFUL",
"saveset_replication_status": "FAILED",
"is_saveset_retained": true,
"is_saveset_deleted": true,
"saveset_id": 0,
"run_type": "FULL",
"site_type": "string",
"status_detail": "string"
}
]
"""

ALL_EXECUTIONS = json.loads(ALL_EXECUTIONS_TEXT)

JOB_EXECUTIONS_TEXT = """\
[
{
"site_id": "string",
"target_site": "string",
"job_id": 0,
"job_name": "string",
"backup_mechanism": "DSA",
"job_type": "RESTORE",
"execution_id": "string",
"execution_name": "string",
"start_time": "string",
"end_time": "string",
"backup_set_size": 0,
"server_execution_id": "string",
"parent_execution_id": "string",
"status": "SUCCESSFUL",
"saveset_replication_status": "FAILED",
"is_saveset_retained": true,
"is_saveset_deleted": true,
"saveset_id": 0,
"run_type": "FULL",
"site_type": "string",
"status_detail": "string"
}
]
"""

JOB_EXECUTIONS = json.loads(JOB_EXECUTIONS_TEXT)

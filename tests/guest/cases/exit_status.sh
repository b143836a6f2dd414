#!/bin/sh
# expect-exit: 3
# The main task's exit status reaches the console (TASKINIT_EXIT, checked by
# the host runner against the expect-exit line above) and the VM powers off
# by itself.
. /tests/lib.sh
pass exit_status.main_task_ran
exit 3

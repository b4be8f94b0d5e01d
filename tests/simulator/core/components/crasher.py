"""Test component: counts its starts in its work folder, then exits with the configured code."""
import sys
import time

from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

ipc = GreengrassCoreIPCClientV2()
config = ipc.get_configuration(key_path=[]).value
with open("starts", "a") as f:
    f.write("start\n")
time.sleep(float(config.get("runFor", 0.2)))
sys.exit(int(config.get("exitCode", 1)))

"""AWS Lambda handler (mlserve_handler.handler): loads the model during the init phase."""
import os

from mlserve_runtime.aws import make_handler
from mlserve_runtime.core import Runtime

RUNTIME = Runtime(os.path.dirname(os.path.abspath(__file__)))
handler = make_handler(RUNTIME)

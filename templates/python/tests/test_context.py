"""context.py: Lambda's context from the process, and the request ids the runtime makes up."""
import os
import threading
import uuid

from mlserve_runtime.context import Context, new_request_id


def test_request_ids_are_random_uuids_unique_across_threads():
    ids: list[str] = []

    def draw():
        ids.extend(new_request_id() for _ in range(400))

    threads = [threading.Thread(target=draw) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == len(ids) == 3200  # more than one 4 KiB draw of random bytes
    parsed = [uuid.UUID(i) for i in ids]
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 for u in parsed)


def test_a_forked_process_never_repeats_its_parents_ids():
    new_request_id()  # the parent holds unused random bytes when it forks
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, new_request_id().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    assert uuid.UUID(child).version == 4
    assert child != new_request_id()


def test_the_context_takes_the_functions_environment_once_per_process(monkeypatch):
    from mlserve_runtime import context as module

    module._after_fork()  # as a fresh process
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "iris-dev")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_VERSION", "7")
    monkeypatch.delenv("AWS_LAMBDA_LOG_STREAM_NAME", raising=False)
    try:
        context = Context("req-1", 0)
        assert (context.aws_request_id, context.function_name, context.function_version) == ("req-1", "iris-dev", "7")
        assert context.invoked_function_arn == "arn:aws:lambda:local:000000000000:function:iris-dev:7"
        assert (context.log_group_name, context.log_stream_name) == ("/aws/lambda/iris-dev", f"local/{os.getpid()}")
        assert context.get_remaining_time_in_millis() == 0
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "other")
        assert Context("req-2", 0).function_name == "iris-dev"  # Lambda's environment is fixed for the process
    finally:
        module._after_fork()

/* Client libraries other than Mosquitto's: the Eclipse Paho Python client
 * (Debian python3-paho-mqtt) runs its own checks against the broker (see
 * tests/interop/paho_interop.py): QoS 0/1/2 over MQTT 3.1.1 and 3.1,
 * retained messages, offline queueing, wills, a 2 MB payload. */
#include "tests/integration/harness.h"

#include <stdio.h>

ITEST(test_paho_python_client)
{
    char port[16];
    snprintf(port, sizeof port, "%d", it_port(t));
    const char *argv[] = {"/usr/bin/python3", "tests/interop/paho_interop.py", port, NULL};
    assert_true(t->nprocs < IT_MAX_PROCS);
    struct proc *p = &t->procs[t->nprocs++];
    assert_int_equal(proc_spawn(p, argv), 0);
    int rc = proc_wait(p, 90000);
    char out[4096];
    proc_output(p, out, sizeof out);
    if (rc != 0) fprintf(stderr, "paho_interop.py exited %d:\n%s\n", rc, out);
    assert_int_equal(rc, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT(test_paho_python_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

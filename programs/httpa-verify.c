/* httpa-verify: verify a DCAP (or simulated) quote and apply a policy.
 * The logic lives in src/attest/verify_cli.c so that the tests run it. */
#include <stdio.h>

#include "httpa/verify_cli.h"

int main(int argc, char **argv)
{
    return httpa_verify_main(argc, argv, stdout, stderr);
}

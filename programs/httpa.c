/* httpa: transfer a URL over HTTPA/2 (see `httpa --help`, docs/CLIENT.md).
 * The command lives in src/io/curl/cli*.c so that tests run the same code;
 * this file owns the process-wide libcurl state. */
#include <curl/curl.h>

#include "httpa/curl_cli.h"

int main(int argc, char **argv)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fputs("httpa: cannot initialize libcurl\n", stderr);
        return HTTPA_CLI_EXIT_USAGE;
    }
    int code = httpa_curl_main(argc, argv, stdout, stderr);
    curl_global_cleanup();
    return code;
}

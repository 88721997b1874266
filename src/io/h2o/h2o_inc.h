/* The one place src/io/h2o includes libh2o (built with its own event loop).
 * h2o 2.2.5's headers build cleanly with the project's warning set under
 * gcc 12; the pragma below only mutes the one warning older or other
 * compilers raise for h2o's "static" declarations of inline functions. */
#ifndef HTTPA_IO_H2O_INC_H
#define HTTPA_IO_H2O_INC_H

#ifndef H2O_USE_LIBUV
#define H2O_USE_LIBUV 0
#endif

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include <h2o.h>
#include <h2o/http1.h>
#include <h2o/http2.h>
#pragma GCC diagnostic pop

#endif

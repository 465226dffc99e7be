/* The RSI sleeve backtest in C: the yardstick for the numba kernels (c_loop.py builds it).

   Both functions do the arithmetic of reference.py, operation by operation, so their
   outputs equal the numba kernels' to the last bit (c_loop.py checks it before timing):

   - perfopt_backtest_plain: the loop one writes first, one pass over dates, one branchy
     pass over tickers per date;
   - perfopt_backtest_fused: the arrangement of fused.py (branch-free ticker passes that
     the compiler vectorizes, the acting sleeves apart, BLOCK dates summed side by side).

   Outputs are preallocated by the caller; the trade buffers must hold the worst case,
   n_tickers * (n_dates / 2 + 1) round trips. Each returns the number of trades, or -1
   when the buffers were too small or memory ran out. Build with -ffp-contract=off: a fused
   multiply-add would change the bits. */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#define BLOCK 8

typedef struct {
    int64_t *col, *entry, *exit_row;
    double *entry_px, *exit_px, *shares, *cost;
    int64_t capacity;
} trades_t;

int64_t perfopt_backtest_plain(const double *close, int64_t n_dates, int64_t n_tickers,
                               int64_t period, double oversold, double overbought, double fee,
                               double sleeve_cash, double *equity, double *final_equity,
                               trades_t *tr)
{
    double *prev = malloc(n_tickers * sizeof(double)), *ag = calloc(n_tickers, sizeof(double)),
           *al = calloc(n_tickers, sizeof(double)), *cash = malloc(n_tickers * sizeof(double)),
           *shares = calloc(n_tickers, sizeof(double)), *last = malloc(n_tickers * sizeof(double));
    int64_t *count = calloc(n_tickers, sizeof(int64_t)), *open = malloc(n_tickers * sizeof(int64_t));
    int64_t n = 0;
    if (!prev || !ag || !al || !cash || !shares || !last || !count || !open) {
        n = -1;
        goto done;
    }
    for (int64_t j = 0; j < n_tickers; j++) {
        prev[j] = NAN;
        cash[j] = sleeve_cash;
        last[j] = NAN;
        open[j] = -1;
    }
    const double fp = (double)period, fpm1 = (double)(period - 1);
    for (int64_t t = 0; t < n_dates; t++) {
        const double *row = close + t * n_tickers;
        double total = 0.0;
        for (int64_t j = 0; j < n_tickers; j++) {
            double c = row[j];
            if (!isnan(c)) {
                last[j] = c;
                double p = prev[j];
                prev[j] = c;
                if (!isnan(p)) {
                    double d = c - p;
                    double gain = d > 0.0 ? d : 0.0, loss = d < 0.0 ? -d : 0.0;
                    int64_t k = count[j];
                    int defined = 1;
                    if (k < period) {
                        ag[j] += gain;
                        al[j] += loss;
                        count[j] = ++k;
                        if (k < period) {
                            defined = 0;
                        } else {
                            ag[j] = ag[j] / fp;
                            al[j] = al[j] / fp;
                        }
                    } else {
                        ag[j] = (ag[j] * fpm1 + gain) / fp;
                        al[j] = (al[j] * fpm1 + loss) / fp;
                    }
                    if (defined) {
                        double g = ag[j], lo = al[j];
                        double r = lo == 0.0 ? (g > 0.0 ? 100.0 : 50.0)
                                             : 100.0 - 100.0 / (1.0 + g / lo);
                        if (shares[j] == 0.0) {
                            if (r < oversold) {
                                if (n == tr->capacity) {
                                    n = -1;
                                    goto done;
                                }
                                double cost = cash[j];
                                shares[j] = cost / (c * (1.0 + fee));
                                cash[j] = 0.0;
                                tr->col[n] = j;
                                tr->entry[n] = t;
                                tr->entry_px[n] = c;
                                tr->exit_row[n] = -1;
                                tr->exit_px[n] = NAN;
                                tr->shares[n] = shares[j];
                                tr->cost[n] = cost;
                                open[j] = n++;
                            }
                        } else if (r > overbought) {
                            cash[j] = shares[j] * c * (1.0 - fee);
                            shares[j] = 0.0;
                            tr->exit_row[open[j]] = t;
                            tr->exit_px[open[j]] = c;
                            open[j] = -1;
                        }
                    }
                }
            }
            if (shares[j] == 0.0)
                total += cash[j];
            else
                total += cash[j] + shares[j] * last[j];
        }
        equity[t] = total;
    }
    for (int64_t j = 0; j < n_tickers; j++)
        final_equity[j] = shares[j] == 0.0 ? cash[j] : cash[j] + shares[j] * last[j];
done:
    free(prev); free(ag); free(al); free(cash); free(shares); free(last); free(count); free(open);
    return n;
}

int64_t perfopt_backtest_fused(const double *close, int64_t n_dates, int64_t n_tickers,
                               int64_t period, double oversold, double overbought, double fee,
                               double sleeve_cash, double *equity, double *final_equity,
                               trades_t *tr)
{
    double *prev = malloc(n_tickers * sizeof(double)), *ag = calloc(n_tickers, sizeof(double)),
           *al = calloc(n_tickers, sizeof(double)), *cash = malloc(n_tickers * sizeof(double)),
           *shares = calloc(n_tickers, sizeof(double)), *last = malloc(n_tickers * sizeof(double)),
           *value = calloc(BLOCK * n_tickers, sizeof(double));
    int64_t *count = calloc(n_tickers, sizeof(int64_t)), *open = malloc(n_tickers * sizeof(int64_t)),
            *defined = calloc(n_tickers, sizeof(int64_t)),
            *event = calloc((n_tickers + 7) / 8 * 8, sizeof(int64_t)); /* whole groups of 8 */
    int64_t n = 0;
    if (!prev || !ag || !al || !cash || !shares || !last || !value || !count || !open || !defined ||
        !event) {
        n = -1;
        goto done;
    }
    for (int64_t j = 0; j < n_tickers; j++) {
        prev[j] = NAN;
        cash[j] = sleeve_cash;
        last[j] = NAN;
        open[j] = -1;
    }
    const double fp = (double)period, fpm1 = (double)(period - 1);
    const double buy_k = 1.0 + fee, sell_k = 1.0 - fee;
    for (int64_t t = 0; t < n_dates; t++) {
        const double *restrict row = close + t * n_tickers;
        int64_t b = t % BLOCK;
        for (int64_t j = 0; j < n_tickers; j++) { /* Wilder averages */
            double c = row[j], p = prev[j];
            int64_t k = count[j];
            double a = ag[j], l = al[j];
            double d = c - p;
            double gain = d > 0.0 ? d : 0.0, loss = d < 0.0 ? -d : 0.0;
            int64_t valid = c == c, step = valid & (p == p), warm = k < period;
            double sum_g = warm ? a + gain : a * fpm1 + gain;
            double sum_l = warm ? l + loss : l * fpm1 + loss;
            double q_g = sum_g / fp, q_l = sum_l / fp;
            int64_t divide = (warm ^ 1) | (k + 1 == period);
            double new_g = divide ? q_g : sum_g, new_l = divide ? q_l : sum_l;
            ag[j] = step ? new_g : a;
            al[j] = step ? new_l : l;
            count[j] = k + (step & warm);
            prev[j] = valid ? c : p;
            defined[j] = step & (k + 1 >= period);
            last[j] = valid ? c : last[j];
        }
        int64_t n_events = 0;
        for (int64_t j = 0; j < n_tickers; j++) { /* RSI, signal, value before acting */
            double g = ag[j], lo = al[j];
            double r = 100.0 - 100.0 / (1.0 + g / lo);
            double r_flat = g > 0.0 ? 100.0 : 50.0;
            r = lo != 0.0 ? r : r_flat;
            double s = shares[j], cj = cash[j];
            int64_t flat = s == 0.0;
            int64_t buy = r < oversold, sell = r > overbought;
            int64_t act = defined[j] & ((flat & buy) | ((flat ^ 1) & sell));
            event[j] = act;
            double held = cj + s * last[j];
            value[b * n_tickers + j] = flat ? cj : held;
        }
        for (int64_t j = 0; j < n_tickers; j++) /* separate: a counter stops gcc vectorizing */
            n_events += event[j];
        for (int64_t w = 0; n_events > 0; w += 8) { /* the sleeves that act, 8 flags a test */
            int64_t any = 0;
            for (int64_t i = 0; i < 8; i++)
                any |= event[w + i];
            if (!any)
                continue;
            for (int64_t j = w; j < w + 8; j++) {
                if (!event[j])
                    continue;
                n_events--;
                double c = row[j], s = shares[j];
                if (s == 0.0) {
                    if (n == tr->capacity) {
                        n = -1;
                        goto done;
                    }
                    double cost = cash[j];
                    s = cost / (c * buy_k);
                    shares[j] = s;
                    cash[j] = 0.0;
                    tr->col[n] = j;
                    tr->entry[n] = t;
                    tr->entry_px[n] = c;
                    tr->exit_row[n] = -1;
                    tr->exit_px[n] = NAN;
                    tr->shares[n] = s;
                    tr->cost[n] = cost;
                    open[j] = n++;
                    value[b * n_tickers + j] = 0.0 + s * last[j];
                } else {
                    double proceeds = s * c * sell_k;
                    cash[j] = proceeds;
                    shares[j] = 0.0;
                    tr->exit_row[open[j]] = t;
                    tr->exit_px[open[j]] = c;
                    open[j] = -1;
                    value[b * n_tickers + j] = proceeds;
                }
            }
        }
        if (b == BLOCK - 1 || t == n_dates - 1) { /* BLOCK dates summed side by side */
            double totals[BLOCK] = {0.0};
            for (int64_t j = 0; j < n_tickers; j++)
                for (int i = 0; i < BLOCK; i++)
                    totals[i] += value[i * n_tickers + j];
            for (int64_t i = 0; i <= b; i++)
                equity[t - b + i] = totals[i];
        }
    }
    for (int64_t j = 0; j < n_tickers; j++)
        final_equity[j] = shares[j] == 0.0 ? cash[j] : cash[j] + shares[j] * last[j];
done:
    free(prev); free(ag); free(al); free(cash); free(shares); free(last); free(value);
    free(count); free(open); free(defined); free(event);
    return n;
}

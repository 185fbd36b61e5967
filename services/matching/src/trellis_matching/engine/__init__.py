"""The pure matching core: no database, no Kafka, no HTTP.

features   profiles -> per-cohort feature arrays (once per cohort)
score      factor tables and vectorised pair scores for blocks of mentees
candidates each mentee's k best feasible mentors, exactly, in bounded memory
explain    per-factor values, weights and reasons for one pair
solve      cohort assignment on the candidates (optimal, stable, greedy)
generate   synthetic cohorts for tests and benchmarks
"""

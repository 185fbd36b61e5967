"""The pure matching core: no database, no Kafka, no HTTP.

Profiles to features (once per cohort)
  profiles      mentee and mentor profiles as the engine takes them in
  vocabulary    free text, languages and stated preferences as comparable terms and codes
  availability  weekly availability and UTC offsets on one reference week of UTC quarter-hours
  exclusions    pairs the data rules out (same person, declined, excluded, reporting lines)
  features      a cohort's feature arrays, built from its profiles

Scores
  factors       the factors, hard constraints and weights, and the per-pair kernels
  tables        per-factor tables [mentee code, mentor] of a cohort
  prepared      the tables merged and weighted for one set of weights, cut into mentor tiles
  score         vectorised pair scores for blocks of mentees
  breakdown     every factor and constraint separately for some pairs (explanations, tests)
  candidates    each mentee's k best feasible mentors, exactly, in bounded memory
  topk          pairs as sortable keys, and the best keys of each row
  explain       per-factor values, weights and reasons for one pair

Cohort assignment on the candidates
  assignment    the result every solver returns; integer weights and shared edge helpers
  optimal       exact maximum total score (min-cost flow), with its proofs
  certificate   the LP dual that proves an assignment optimal on its graph
  pruning       the proved bound on what cutting the graph to candidates could have cost
  stable        mentee-proposing deferred acceptance with capacities; blocking pairs
  baselines     greedy and a dense exact optimum, for tests and benchmarks

generate        synthetic cohorts for tests and benchmarks
taxonomy        what synthetic people are made of (skills, zones, languages, shares)
"""

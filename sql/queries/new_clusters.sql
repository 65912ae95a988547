-- new_clusters: named clusters of a nightly run whose name did not appear in the run a week
-- earlier — what people started asking for this week.
-- params: $date (date of the nightly run)
SELECT cur.level, cur.name, cur.conversations, cur.accounts, cur.policy_area, cur.summary
FROM clusters cur
WHERE cur.date = $date AND NOT cur.suppressed
  AND cur.name NOT IN (
    SELECT name FROM clusters WHERE date = $date - INTERVAL '7' DAY AND name IS NOT NULL
  )
ORDER BY cur.level DESC, cur.conversations DESC;

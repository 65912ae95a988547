-- campaign_timeline: a campaign's activity per day (conversations, active accounts, languages).
-- params: $campaign_id (text), $date (date of the nightly run)
SELECT CAST(m.created_at AS DATE) AS day, count(*) AS conversations,
       count(DISTINCT m.account_id) AS accounts, count(DISTINCT c.language) AS languages
FROM campaign_members m
JOIN conversations c ON c.conversation_id = m.conversation_id
WHERE m.campaign_id = $campaign_id AND m.date = $date
GROUP BY CAST(m.created_at AS DATE)
ORDER BY day;

DROP TABLE global_settings;
DROP TABLE logos;
DROP TABLE segments;
DROP TABLE projects;

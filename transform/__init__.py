"""The language: Cloudinary URL grammar → typed steps → Plan; canonical key; signing. Pure."""
